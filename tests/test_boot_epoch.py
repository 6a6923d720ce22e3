"""The boot epoch: counts starts durably and refuses to guess over a corrupt file."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.runtime.boot_epoch import BootEpochError, next_boot_epoch


def test_epochs_count_up_from_one_across_starts(tmp_path: Path) -> None:
    assert [next_boot_epoch(tmp_path / "dev") for _ in range(3)] == [1, 2, 3]
    assert (tmp_path / "dev" / "boot_epoch").read_text() == "3\n"
    assert not (tmp_path / "dev" / "boot_epoch.tmp").exists()


@pytest.mark.parametrize("content", ["", "seven\n", "-1\n", "3.5\n"])
def test_a_corrupt_epoch_file_is_refused(tmp_path: Path, content: str) -> None:
    (tmp_path / "boot_epoch").write_text(content)
    with pytest.raises(BootEpochError, match="boot_epoch"):
        next_boot_epoch(tmp_path)
    assert (tmp_path / "boot_epoch").read_text() == content, "left as found, for inspection"
