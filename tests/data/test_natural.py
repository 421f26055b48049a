import os
import warnings

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from keras_gahb.data import CELEBA_CROP, folder_images, get_images, tfds_dataset


def _write_folder(root):
    rng = np.random.default_rng(0)
    os.makedirs(root / "sub")
    arrays = []
    for k, (h, w) in enumerate([(20, 30), (24, 24), (30, 20)]):
        rgb = (rng.uniform(size=(h, w, 3)) * 255).astype(np.uint8)
        arrays.append(rgb)
        folder = root / "sub" if k == 2 else root
        ext = ".PNG" if k == 1 else ".png"
        Image.fromarray(rgb).save(folder / f"img{k}{ext}")
    (root / "broken.jpg").write_bytes(b"not an image")
    (root / "notes.txt").write_text("ignored")
    return arrays


def test_folder_reads_crops_resizes_and_reports_unreadable(tmp_path):
    arrays = _write_folder(tmp_path)
    with pytest.warns(UserWarning, match="broken.jpg"):
        images = folder_images(tmp_path, size=12, channels=1)
    assert images.shape == (3, 12, 12, 1) and images.dtype == np.float32
    # Sorted order: img0.png, img1.PNG, sub/img2.png. Gray = mean of RGB; resizing keeps the
    # mean of the central square crop.
    for image, rgb in zip(images, arrays):
        h, w = rgb.shape[:2]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        square = rgb[top:top + side, left:left + side] / 255.0
        np.testing.assert_allclose(image.mean(), square.mean(), atol=0.02)
    with pytest.raises(ValueError, match="broken.jpg"):
        folder_images(tmp_path, size=12, on_error="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rgb = get_images("folder", 2, 8, channels=3, path=str(tmp_path), crop=None)
    assert rgb.shape == (2, 8, 8, 3)
    with pytest.raises(ValueError, match="readable images"):
        get_images("folder", 5, 8, path=str(tmp_path))


def test_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        folder_images(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="No PNG/JPEG"):
        folder_images(tmp_path)
    with pytest.raises(ValueError, match="needs path"):
        get_images("folder", 2, 8)


def test_celeba_preprocessing_with_mock_data():
    with tfds.testing.mock_data(num_examples=4):
        raw = next(iter(tfds.load("celeb_a", split="train", download=False)))["image"].numpy()
        ds = tfds_dataset("celeba", size=16, split="train")
        first = next(iter(ds)).numpy()
        images = get_images("celeba", 3, 16)
        rgb = get_images("celeba", 2, 16, channels=3)
    assert raw.shape == (218, 178, 3)
    assert first.shape == (16, 16, 1) and images.shape == (3, 16, 16, 1)
    np.testing.assert_allclose(images[0], first)
    (top, bottom), (left, right) = CELEBA_CROP
    crop = raw[top:bottom, left:right].astype(np.float32) / 255.0
    assert crop.shape == (160, 160, 3)
    # Reference: PIL's (antialiased) bicubic resize of the cropped gray image.
    gray = Image.fromarray(crop.mean(axis=-1), mode="F")
    expected = np.clip(np.asarray(gray.resize((16, 16), Image.BICUBIC)), 0, 1)
    np.testing.assert_allclose(first[..., 0], expected, atol=1e-5)
    np.testing.assert_allclose(rgb.mean(axis=-1, keepdims=True), images[:2], atol=1e-5)


@pytest.mark.parametrize("name", ["celeba", "celeba_hq", "lsun_bedroom"])
def test_missing_tfds_data_names_the_manual_steps(name, tmp_path):
    with pytest.raises(FileNotFoundError, match="download_and_prepare"):
        get_images(name, 2, 16, data_dir=str(tmp_path))


def test_lsun_center_crop_with_mock_data():
    with tfds.testing.mock_data(num_examples=2):
        images = get_images("lsun_bedroom", 2, 8, channels=3)
    assert images.shape == (2, 8, 8, 3) and 0 <= images.min() and images.max() <= 1
