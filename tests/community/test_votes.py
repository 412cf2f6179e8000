from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from paperfeed.community import accounts
from paperfeed.community.votes import set_vote, toggle_vote
from paperfeed.db import Database
from paperfeed.models import Paper, Upvote
from paperfeed.papers.counts import inconsistent
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers


def setup(db: Database, users: int = 1) -> tuple[int, list[int]]:
    with db.transaction() as session:
        upsert_papers(session, [PaperRecord(title="A paper", abstract="x", upvotes=5)])
        paper = session.execute(select(Paper.id)).scalar_one()
        ids = [
            accounts.create_user(session, f"user{i}", f"u{i}@example.org", "long enough pw").id
            for i in range(users)
        ]
    return paper, ids


def test_one_vote_per_user_and_counts_follow_rows(db: Database) -> None:
    paper, [user] = setup(db)
    with db.transaction() as session:
        assert set_vote(session, user, paper, True).upvotes == 6
        assert set_vote(session, user, paper, True).upvotes == 6  # a second vote changes nothing
    with db.transaction() as session:
        assert toggle_vote(session, user, paper).upvotes == 5
        assert toggle_vote(session, user, paper).voted
    with db.reader() as session:
        assert inconsistent(session) == []


def test_parallel_votes_neither_double_count_nor_get_lost(db: Database) -> None:
    paper, users = setup(db, users=12)
    other = Database(db.url)  # a second "process" writing at the same time

    def vote(args: tuple[int, int]) -> None:
        n, user = args
        database = db if n % 2 else other
        for _ in range(3):  # every user clicks three times in a hurry
            with database.transaction() as session:
                set_vote(session, user, paper, True)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(vote, enumerate(users)))
    with db.reader() as session:
        assert session.execute(select(func.count()).select_from(Upvote)).scalar_one() == 12
        assert session.execute(select(Paper.upvotes)).scalar_one() == 5 + 12
        assert inconsistent(session) == []
    other.dispose()
