"""``init_model`` reads the checkpoints that training writes, with ``weights_only`` loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer

from panoptic.apis import init_model
from panoptic.structures import PanopticDataSample

CONFIG = Path(__file__).resolve().parents[2] / "configs/panoptic/yolact_upsnet_r18_synthetic.py"


def test_init_model_loads_a_training_checkpoint_and_its_dataset_meta(tmp_path: Path) -> None:
    source = init_model(CONFIG)
    with torch.no_grad():
        for param in source.parameters():
            param.add_(0.01)
    dataset_meta = dict(label2cat={0: 11, 1: 12, 2: 13, 3: 14, 4: 20, 5: 21, 6: 22})
    checkpoint = dict(
        meta=dict(dataset_meta=dataset_meta, iter=np.int64(8), seed=np.int64(3)),
        state_dict=source.state_dict(),
        # what mmengine's message hub puts into a training checkpoint
        message_hub=dict(log_scalars={"train/loss": HistoryBuffer([1.0, 0.5], [1, 1])}),
    )
    path = tmp_path / "iter_8.pth"
    torch.save(checkpoint, path)

    model = init_model(CONFIG, path)

    assert model.dataset_meta["label2cat"][4] == 20
    assert model.label2cat(PanopticDataSample())[6] == 22
    for key, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


def test_init_model_refuses_a_checkpoint_that_could_run_code(tmp_path: Path) -> None:
    class Payload:
        def __reduce__(self) -> tuple:
            return (print, ("this must not run",))

    path = tmp_path / "evil.pth"
    torch.save(dict(state_dict={}, meta=dict(payload=Payload())), path)
    with pytest.raises(Exception, match=r"[Ww]eights.only|Unsupported global"):
        init_model(CONFIG, path)
