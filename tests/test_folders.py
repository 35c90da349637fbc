"""cnncourse.folders.writable_problem: one line naming the folder and the fix, or None when writing works."""
from __future__ import annotations

from cnncourse.folders import writable_problem


def test_a_writable_folder_existing_or_new_has_no_problem(tmp_path):
    assert writable_problem(tmp_path) is None  # exists already
    new = tmp_path / "a" / "b"
    assert writable_problem(new) is None and new.is_dir()  # created with its parents
    assert list(new.iterdir()) == []  # the probe file is gone


def test_a_file_in_place_of_the_folder_is_named(tmp_path):
    file = tmp_path / "outputs"
    file.write_text("not a folder")
    problem = writable_problem(file)
    assert problem is not None and str(file) in str(problem) and "is a file, not a folder" in str(problem)
    assert file.read_text() == "not a folder"  # nothing lost


def test_a_read_only_parent_is_the_folder_named_in_the_fix(read_only_dir):
    target = read_only_dir / "outputs" / "claims"
    problem = writable_problem(target)
    assert problem is not None, "a folder under a read-only one cannot be writable"
    text = str(problem)
    assert text.startswith(f"cannot write to {target} (") and f"make {read_only_dir} writable" in text, text
