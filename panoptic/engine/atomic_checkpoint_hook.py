"""A CheckpointHook whose files survive ``kill -9`` at any moment.

mmengine's ``CheckpointHook`` writes a checkpoint in place, deletes the oldest
kept checkpoint (and the previous best) *before* writing the new one, and
rewrites the ``last_checkpoint`` pointer in place. A kill in between leaves a
torn file or a pointer to nothing. Here every write goes to a temporary file
that is fsynced and renamed, the pointer moves only after its checkpoint is
complete, and outdated files are removed only after that.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook

from panoptic.engine.checkpoint_io import atomic_write_text, commit_file
from panoptic.registry import HOOKS


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """``CheckpointHook`` with atomic checkpoint, best-checkpoint and pointer writes.

    Takes the same arguments as :class:`mmengine.hooks.CheckpointHook`; only
    local output folders are supported (the atomic rename needs a file system).
    """

    def before_train(self, runner: Any) -> None:
        """Set up as mmengine does, then delete temporary files of a killed save."""
        super().before_train(runner)
        if is_main_process() and os.path.isdir(self.out_dir):
            for stale in Path(self.out_dir).glob(".*.tmp"):
                stale.unlink()

    def _save_atomically(self, runner: Any, filename: str, **save_kwargs: Any) -> None:
        """Save a checkpoint as ``out_dir/filename`` through a temporary file.

        Args:
            runner: The mmengine runner.
            filename: Final file name inside ``self.out_dir``.
            **save_kwargs: Passed on to ``runner.save_checkpoint``.
        """
        tmp_filename = f".{filename}.tmp"
        runner.save_checkpoint(
            self.out_dir,
            tmp_filename,
            self.file_client_args,
            backend_args=self.backend_args,
            **save_kwargs,
        )
        if is_main_process():
            commit_file(Path(self.out_dir) / tmp_filename, Path(self.out_dir) / filename)

    def _save_checkpoint_with_step(self, runner: Any, step: int, meta: dict) -> None:
        """Save ``filename_tmpl.format(step)``, then move the pointer, then prune."""
        outdated_steps: list[int] = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated_steps.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info("keep_ckpt_ids", list(self.keep_ckpt_ids))

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info("last_ckpt", self.last_ckpt)
        self._save_atomically(
            runner,
            ckpt_filename,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            **self.args,
        )
        if not is_main_process():
            return
        atomic_write_text(self.last_ckpt, Path(runner.work_dir) / "last_checkpoint")
        for old_step in outdated_steps:
            old_path = Path(self.out_dir) / self.filename_tmpl.format(old_step)
            if old_path.is_file() and str(old_path) != str(self.last_ckpt):
                os.remove(old_path)

    def _save_best_checkpoint(self, runner: Any, metrics: dict[str, Any]) -> None:
        """Save ``best_<key>_<step>.pth`` for every improved key, then remove the old best."""
        if not self.save_best:
            return
        if self.by_epoch:
            cur_type, cur_time = "epoch", runner.epoch
        else:
            cur_type, cur_time = "iter", runner.iter
        ckpt_filename = self.filename_tmpl.format(cur_time)
        meta = dict(epoch=runner.epoch, iter=runner.iter)
        if "auto" in self.key_indicators:
            self._init_rule(self.rules, [next(iter(metrics))])

        single_key = len(self.key_indicators) == 1
        best_ckpt_updated = False
        for key_indicator, rule in zip(self.key_indicators, self.rules):
            if key_indicator not in metrics:
                raise KeyError(
                    f"save_best={key_indicator!r} of the checkpoint hook is not among the "
                    f"validation metrics {sorted(metrics)}."
                )
            key_score = metrics[key_indicator]
            best_score_key = "best_score" if single_key else f"best_score_{key_indicator}"
            best_ckpt_key = "best_ckpt" if single_key else f"best_ckpt_{key_indicator}"
            best_score = runner.message_hub.get_info(best_score_key, self.init_value_map[rule])
            if key_score is None or not self.is_better_than[key_indicator](key_score, best_score):
                continue
            best_ckpt_updated = True
            runner.message_hub.update_info(best_score_key, key_score)

            previous_path: str | None = (
                getattr(self, "best_ckpt_path", None)
                if single_key
                else self.best_ckpt_path_dict[key_indicator]
            )
            best_name = f"best_{key_indicator}_{ckpt_filename}".replace("/", "_")
            best_path = self.file_backend.join_path(self.out_dir, best_name)
            if single_key:
                self.best_ckpt_path = best_path
            else:
                self.best_ckpt_path_dict[key_indicator] = best_path
            runner.message_hub.update_info(best_ckpt_key, best_path)
            self._save_atomically(
                runner,
                best_name,
                save_optimizer=False,
                save_param_scheduler=False,
                meta=meta,
                by_epoch=False,
            )
            if (
                is_main_process()
                and previous_path is not None
                and str(previous_path) != str(best_path)
                and os.path.isfile(previous_path)
            ):
                os.remove(previous_path)
            runner.logger.info(
                f"The best checkpoint with {key_score:0.4f} {key_indicator} at {cur_time} "
                f"{cur_type} is saved to {best_name}."
            )

        # Re-save the step checkpoint so that its message hub knows the new best
        # (mmengine does the same): a resume then removes the right old best.
        if best_ckpt_updated and self.last_ckpt is not None:
            self._save_checkpoint_with_step(runner, cur_time, meta)
