"""Base class of every transform: one random draw per image or per clip.

A result is either one frame (a dict of arrays) or a clip, a dict whose
``frames`` list holds frame dicts. A transform draws its random parameters
once from the first frame and applies them to every frame, so all frames of a
clip get the same flip, crop or colour change. Each transform touches only
the keys that are present, so annotations may be loaded before or after a
resize.
"""

from __future__ import annotations

from typing import Any


class PanopticTransform:
    """Callable transform over a frame or a clip; subclasses define ``apply``."""

    def __call__(self, results: dict[str, Any]) -> dict[str, Any] | None:
        """Transform a frame or every frame of a clip; None drops the item."""
        if "frames" in results:
            params = self.sample_params(results["frames"][0])
            frames = []
            for frame in results["frames"]:
                out = self.apply(frame, params)
                if out is None:
                    return None
                frames.append(out)
            results["frames"] = frames
            return results
        return self.apply(results, self.sample_params(results))

    def sample_params(self, results: dict[str, Any]) -> Any:
        """Random parameters drawn once per item (frame or clip)."""
        return None

    def apply(self, results: dict[str, Any], params: Any) -> dict[str, Any] | None:
        """Transform one frame with the drawn parameters."""
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"
