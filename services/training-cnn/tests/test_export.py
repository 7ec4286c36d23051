import numpy as np
import pytest
import torch

from training_cnn.data import ImageSplits
from training_cnn.evaluate import predict_logits
from training_cnn.export import INPUT_NAME, OUTPUT_NAME, OnnxClassifier, export_onnx
from training_cnn.train import Trainer, fit, new_model

from .conftest import tiny_config


@pytest.mark.parametrize("dataset", ["mnist", "cifar10"])
def test_onnx_predicts_the_same_classes_as_torch(dataset: str, request: pytest.FixtureRequest) -> None:
    splits: ImageSplits = request.getfixturevalue(f"{dataset}_splits")
    config = tiny_config(dataset, epochs=1, width=4)
    trainer = Trainer(new_model(splits, config), splits, config, torch.device("cpu"))
    fit(trainer, "sha256:test")

    exported = export_onnx(trainer.model, splits.spec.input_shape)
    assert [i.name for i in exported.graph.input] == [INPUT_NAME]
    assert [o.name for o in exported.graph.output] == [OUTPUT_NAME]
    assert exported.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"

    batch = splits.test_images[:37]  # not the export's example batch size: the batch axis is dynamic
    onnx_logits = OnnxClassifier(exported).logits(batch)
    torch_logits = predict_logits(trainer.model, torch.from_numpy(batch.copy()), torch.device("cpu")).numpy()
    assert onnx_logits.shape == (37, 10)
    np.testing.assert_allclose(onnx_logits, torch_logits, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(onnx_logits.argmax(1), torch_logits.argmax(1))
