"""Give the model the metainfo of the data it trains, validates or tests on."""

from __future__ import annotations

from typing import Any

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from panoptic.registry import HOOKS


def _set_model_meta(runner: Any, dataset: Any) -> None:
    metainfo = getattr(dataset, "metainfo", None)
    if not metainfo:
        return
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    model.dataset_meta = dict(metainfo)


@HOOKS.register_module()
class DatasetMetaHook(Hook):
    """Set ``model.dataset_meta`` from the loop's dataset before it runs.

    The panoptic models turn contiguous labels into dataset category ids
    through ``dataset_meta["label2cat"]``; mmengine hands the metainfo to the
    evaluator and the visualizer but not to the model, so without this hook a
    COCO model would write wrong category ids into ``pred_panoptic``.
    """

    priority = "VERY_HIGH"

    def before_train(self, runner: Any) -> None:
        _set_model_meta(runner, runner.train_dataloader.dataset)

    def before_val(self, runner: Any) -> None:
        _set_model_meta(runner, runner.val_loop.dataloader.dataset)

    def before_test(self, runner: Any) -> None:
        _set_model_meta(runner, runner.test_loop.dataloader.dataset)
