"""DatasetMetaHook hands each loop's dataset metainfo to the (possibly wrapped) model."""

from __future__ import annotations

from types import SimpleNamespace

from torch import nn

from panoptic.engine.dataset_meta_hook import DatasetMetaHook


class Wrapper(nn.Module):
    """Stands in for a DDP wrapper: the real model sits in ``.module``."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module


def loader(label2cat: dict[int, int]) -> SimpleNamespace:
    return SimpleNamespace(dataset=SimpleNamespace(metainfo=dict(label2cat=label2cat)))


def test_each_loop_sets_its_own_dataset_meta(monkeypatch) -> None:
    model = nn.Linear(1, 1)
    runner = SimpleNamespace(
        model=model,
        train_dataloader=loader({0: 1}),
        val_loop=SimpleNamespace(dataloader=loader({0: 2})),
        test_loop=SimpleNamespace(dataloader=loader({0: 3})),
    )
    hook = DatasetMetaHook()
    hook.before_train(runner)
    assert model.dataset_meta["label2cat"] == {0: 1}
    hook.before_val(runner)
    assert model.dataset_meta["label2cat"] == {0: 2}

    monkeypatch.setattr("panoptic.engine.dataset_meta_hook.is_model_wrapper", lambda m: True)
    runner.model = Wrapper(model)
    hook.before_test(runner)
    assert model.dataset_meta["label2cat"] == {0: 3}
