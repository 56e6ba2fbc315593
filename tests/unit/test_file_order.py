"""The test run hands out the longest files first (tests/file_seconds.py)."""

from pathlib import Path

import file_seconds

ROOT = Path(__file__).resolve().parents[2]


def test_the_recorded_table_names_only_test_files_that_exist():
    table = file_seconds.load()
    assert table, "tests/file_seconds.json is missing or empty"
    missing = [path for path in table if not (ROOT / path).is_file()]
    assert missing == [], f"renamed or deleted test files still in tests/file_seconds.json: {missing}"


def test_durations_are_summed_per_file_and_unlisted_files_sort_last():
    log = (
        "12.50s setup    tests/a/test_x.py::test_one\n"
        "3.00s call     tests/a/test_x.py::test_one\n"
        "0.40s teardown tests/a/test_x.py::test_one\n"
        "2.00s call     tests/b/test_y.py::test_two[case-1]\n"
        "0.20s call     tests/b/test_z.py::test_tiny\n"
        "(1114 durations < 0.005s hidden.)\n"
    )
    table = file_seconds.seconds_per_file(log)
    assert table == {"tests/a/test_x.py": 15.9, "tests/b/test_y.py": 2.0}  # under 1 s: not listed
    ids = [
        "tests/b/test_z.py::test_tiny",
        "tests/b/test_y.py::test_two[case-1]",
        "tests/a/test_x.py::test_one",
    ]
    assert sorted(ids, key=lambda i: file_seconds.longest_first(i, table)) == [ids[2], ids[1], ids[0]]


def test_collection_puts_the_longest_recorded_file_first(request):
    """This session's own collection: the first collected test belongs to the longest recorded file
    among those collected."""
    table = file_seconds.load()
    collected = [item.nodeid.split("::")[0] for item in request.session.items]
    longest = max(set(collected), key=lambda path: table.get(path, 0.0))
    assert collected[0] == longest
