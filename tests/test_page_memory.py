"""What the web process keeps of the pages it serves: pages loaded by a plain GET whose browser never
connects (a script, a crawler, a flood) are not kept by the thousand, and a wizard's draft upload is
read once, shared by its pages and let go with them. (RSS over 1,000 loads: bench/page_memory.py.)"""

from __future__ import annotations

import gc

import pytest
from nicegui import Client
from nicegui.testing import User

from services import audiences, users, wizard_drafts
from services.recipient_files import wizard_table
from tests.helpers import sign_in_page, until
from ui.page_memory import MOST_UNCLAIMED
from ui.pages.wizard_draft import Draft


@pytest.fixture
async def admin(user: User, db, broker_started) -> User:
    await users.create_first_user("anna", "correct horse")
    await sign_in_page(user, "anna", "correct horse")
    return user


def _drafts_of(audience_id: str) -> list[Draft]:
    """The wizard drafts in memory that show this upload (those of other tests' pages left aside)."""
    return [o for o in gc.get_objects() if isinstance(o, Draft) and o.audience_id == audience_id]


def _unclaimed(before: set[str]) -> list[Client]:
    return [c for c in Client.instances.values() if c.id not in before]


async def test_pages_no_browser_connects_to_are_kept_only_while_few(user: User, db) -> None:
    """NiceGUI kept each for 60 s: 2,000 GETs of the sign-in page held 2,000 pages at once, and the
    process's memory stayed 250 MiB larger after they went."""
    before = set(Client.instances)
    for _ in range(MOST_UNCLAIMED + 40):
        assert (await user.http_client.get("/login")).status_code == 200
    assert len(_unclaimed(before)) == MOST_UNCLAIMED + 40

    async def bounded() -> bool:
        return len(_unclaimed(before)) <= MOST_UNCLAIMED

    await until(bounded, "the pages past the bound dropped", seconds=15)
    kept = _unclaimed(before)
    assert (await user.http_client.get("/login")).status_code == 200  # the newest are the ones kept
    assert all(c.created >= min(k.created for k in kept) for c in _unclaimed(before))


async def test_a_drafts_upload_is_read_once_and_let_go_with_the_pages_that_show_it(admin: User) -> None:
    """Each load of the wizard read the draft's upload again and kept its own copy; and FastAPI's
    cache of route endpoints held every page's upload element, and through its handlers the draft and
    its table, long after the page was gone (2.3 GB after 40 loads of a million-row draft)."""
    table = wizard_table.from_csv_text("phone,name\n" + "".join(f"7999{i:07d},N{i}\n" for i in range(500)))
    kept = await audiences.keep_upload("anna", "customers.csv", table)
    await wizard_drafts.remember("anna", audience=kept, phoneColumn="phone", template="Hi {name}")
    del table
    before = set(Client.instances)
    for _ in range(5):
        assert (await admin.http_client.get("/contracts/new")).status_code == 200
    drafts = _drafts_of(kept)
    assert len(drafts) == 5
    assert len({id(d.table) for d in drafts}) == 1  # one table for every page that shows it
    del drafts
    for client in _unclaimed(before):
        client.delete()
    gc.collect()
    # NiceGUI keeps the last refreshable it ran (RefreshableTarget.current_target), with its draft.
    assert len(_drafts_of(kept)) <= 1
