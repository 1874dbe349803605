"""A writer process of the multi-process tests: random ORM writes on the two boards, then a marker.

    python -m tests.multiproc.writer --seed 3 --steps 60 --boards 1,2 --people 1,2,4
    python -m tests.multiproc.writer --marker done-3 --boards 1,2
    python -m tests.multiproc.writer --seed 4 --steps 9 --boards 1,2 --people 1,2,4 --die

With ``--die`` it kills itself with SIGKILL a random fraction of a few milliseconds after its last step
committed, before it could propagate anything itself: what an OOM kill or a deploy does to a worker.

Errors caused by the other writers (a row deleted under our feet) are expected and skipped. It exits once
its changes are propagated.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=0)
    parser.add_argument("--boards", required=True)
    parser.add_argument("--people", default="")
    parser.add_argument("--marker")
    parser.add_argument("--pause", type=float, default=0.0)
    parser.add_argument("--die", action="store_true")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.multiproc.settings")
    import django

    django.setup()
    from board.models import Board
    from django.contrib.auth.models import User
    from django.db import DatabaseError, transaction
    from django.db.models import ObjectDoesNotExist

    from rxgraphql.capture import wait_propagated
    from tests.support.random_writes import RolledBackError, Writer, run_group
    from tests.support.world import BoardWorld

    board_ids = [int(pk) for pk in args.boards.split(",")]
    boards = {board.pk: board for board in Board.objects.filter(pk__in=board_ids)}
    if args.marker:
        with transaction.atomic():
            for board in boards.values():
                board.title = args.marker
                board.save()
    else:
        people = list(User.objects.filter(pk__in=[int(pk) for pk in args.people.split(",")]).order_by("pk"))
        world = BoardWorld(*people[:3], people[-1], {}, boards[board_ids[0]], boards[board_ids[1]])
        seed = args.seed

        class SeededWriter(Writer):
            def name(self, prefix: str) -> str:
                self.counter += 1
                return f"{prefix}-w{seed}-{self.counter}"

        writer = SeededWriter(random.Random(seed), world)
        rng = random.Random(seed * 7919)
        failures = 0
        for _ in range(args.steps):
            try:
                if rng.random() < 0.15:
                    run_group(writer, rng.randint(2, 4), rng.random() < 0.3)
                else:
                    writer.step()
            except RolledBackError:
                pass
            except (DatabaseError, ObjectDoesNotExist, ValueError, IndexError):
                failures += 1  # another writer changed the row meanwhile
            if args.pause:
                time.sleep(args.pause)
        print(f"writer {seed}: {args.steps} steps, {failures} lost races", flush=True)
        if args.die:
            time.sleep(rng.uniform(0.0, 0.004))
            os.kill(os.getpid(), signal.SIGKILL)
    if not wait_propagated(120):
        print("changes still pending after 120 s", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
