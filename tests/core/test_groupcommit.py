"""core.groupcommit: the leader/follower group commit that ingest's webhook rows and the
API's sends share. No database: a write here is a function of the batch."""

import threading
import time

from zalohub.core.groupcommit import FAILED, GroupCommit


class Doubler(GroupCommit[int, int]):
    """Writes a batch by doubling each item; holds its first batch until ``others``
    items are queued behind it, so that the next batch's size is known."""

    name = "numbers"

    def __init__(self, cap: int = 8, others: int = 0, fail: bool = False) -> None:
        super().__init__(cap)
        self.others, self.fail = others, fail
        self.batches: list[list[int]] = []

    def write(self, items: list[int]) -> list[int]:
        if not self.batches:
            deadline = time.monotonic() + 10
            while self.queued() < self.others and time.monotonic() < deadline:
                time.sleep(0.001)
        self.batches.append(list(items))
        if self.fail:
            raise RuntimeError("the database went away")
        return [2 * item for item in items]


def _run_all(committer: Doubler, items: list[int]) -> dict[int, object]:
    outcomes: dict[int, object] = {}

    def one(item: int) -> None:
        outcomes[item] = committer.run(item)

    first = threading.Thread(target=one, args=(items[0],))
    first.start()
    while not committer._leading:  # the first leads (and holds its batch) before the rest
        time.sleep(0.001)
    rest = [threading.Thread(target=one, args=(item,)) for item in items[1:]]
    for thread in rest:
        thread.start()
    for thread in [first, *rest]:
        thread.join(timeout=20)
    return outcomes


def test_it_gives_each_item_its_own_outcome_and_batches_the_queued_ones():
    committer = Doubler(cap=8, others=5)
    outcomes = _run_all(committer, [1, 2, 3, 4, 5, 6])
    # It should answer every item with its own outcome...
    assert outcomes == {n: 2 * n for n in range(1, 7)}
    # ...the first alone (it led at once), the five queued behind it in one batch.
    assert [len(batch) for batch in committer.batches] == [1, 5]
    assert committer.stats() == {
        "batches": 2,
        "rows": 6,
        "multi_row_batches": 1,
        "largest_batch": 5,
    }


def test_it_holds_a_batch_to_its_cap():
    committer = Doubler(cap=2, others=5)
    outcomes = _run_all(committer, [1, 2, 3, 4, 5, 6])
    assert outcomes == {n: 2 * n for n in range(1, 7)}
    assert [len(batch) for batch in committer.batches] == [1, 2, 2, 1]
    assert committer.queued() == 0 and not committer._leading


def test_a_failed_batch_answers_failed_to_every_item_and_the_next_leads_again():
    committer = Doubler(cap=8, others=3, fail=True)
    outcomes = _run_all(committer, [1, 2, 3, 4])
    # It should wake every request of a failed batch with FAILED (each goes alone).
    assert outcomes == {n: FAILED for n in range(1, 5)}
    assert committer.stats()["failed_batches"] == 2
    assert committer.stats()["fallback_rows"] == 4
    # It should not be left leading: the next item leads its own batch.
    committer.fail = False
    assert committer.run(7) == 14
