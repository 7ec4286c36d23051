import torch

from training_cnn.augment import CROP_PADDING, EpochAugmentation, augment_batch


def _images() -> torch.Tensor:
    return torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)


def test_centre_crop_without_flip_is_identity() -> None:
    images = _images()
    offsets = torch.full((2, 2), CROP_PADDING)
    out = augment_batch(images, torch.tensor([False, False]), offsets)
    assert torch.equal(out, images)


def test_flip_and_shift_per_image() -> None:
    images = _images()
    offsets = torch.tensor([[CROP_PADDING, CROP_PADDING], [CROP_PADDING + 1, CROP_PADDING]])
    out = augment_batch(images, torch.tensor([True, False]), offsets)
    assert torch.equal(out[0], images[0].flip(-1))
    # image 1 moved up one row: its first output row is input row 1
    assert torch.equal(out[1, :, :-1], images[1, :, 1:])


def test_epoch_draws_are_reproducible() -> None:
    first = EpochAugmentation.draw(100, torch.Generator().manual_seed(5))
    second = EpochAugmentation.draw(100, torch.Generator().manual_seed(5))
    assert torch.equal(first.flips, second.flips) and torch.equal(first.offsets, second.offsets)
    assert 0 < int(first.flips.sum()) < 100 and int(first.offsets.max()) <= 2 * CROP_PADDING
