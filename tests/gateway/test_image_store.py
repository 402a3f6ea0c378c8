"""The url responses' image store when its directory cannot be written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway.image_store import ImageStore, ImageStoreUnwritable


def test_an_unwritable_directory_is_image_store_unwritable_naming_it(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images", ttl_s=60)
    assert store.path_for(store.save(b"png")) is not None
    shutil.rmtree(store.directory)
    store.directory.write_text("a file where the directory was")  # unwritable even for root
    with pytest.raises(ImageStoreUnwritable, match=str(store.directory)):
        store.save(b"png")
    assert list(tmp_path.glob("**/*.part")) == []
