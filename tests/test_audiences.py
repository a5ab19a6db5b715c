"""Audiences (recipient lists saved from uploads, with a name and tags, used again in the wizard) and
the wizard's draft, which a reload does not lose."""

from __future__ import annotations

import pytest
from nicegui import ui
from nicegui.testing import User

from models import Account, Audience, Contract, Recipient
from services import audiences, users, wizard_drafts
from services.errors import InvalidInput, NotFound
from services.recipient_files import wizard_table
from tests.helpers import phone, sign_in_page, until

CP1251 = "Телефон;Имя\n+7 999 000-00-01;Анна\n+7 999 000-00-02;Борис\n".encode("cp1251")


async def test_an_upload_is_kept_as_it_came_and_read_back_the_same(db) -> None:
    table = wizard_table.from_upload("клиенты.csv", CP1251)
    audience_id = await audiences.keep_upload("anna", "клиенты.csv", table)
    again, _ = await audiences.table_of(audience_id, "anna")
    assert (again.codec, again.delimiter, again.columns, again.count) == (
        "cp1251",
        ";",
        ["Телефон", "Имя"],
        2,
    )
    assert (
        list(again.rows())
        == list(table.rows())
        == [["+7 999 000-00-01", "Анна"], ["+7 999 000-00-02", "Борис"]]
    )
    stored = await Audience.get(id=audience_id)
    assert stored.name is None and stored.size == len(CP1251)


async def test_a_user_keeps_one_unsaved_upload_and_saved_audiences_stay(db) -> None:
    table = wizard_table.from_csv_text("phone\n79990000001\n")
    first = await audiences.keep_upload("anna", "a.csv", table)
    await audiences.save(first, "  November clients ", ["VIP", "vip", " Moscow ", ""], "anna")
    second = await audiences.keep_upload("anna", "b.csv", table)
    third = await audiences.keep_upload("anna", "c.csv", table)
    await audiences.keep_upload("boris", "d.csv", table)
    assert set(await Audience.filter(owner="anna").values_list("id", flat=True)) == {first, third}
    with pytest.raises(NotFound):
        await audiences.table_of(second, "anna")
    for not_theirs in (  # an upload not saved as an audience is its user's alone
        lambda: audiences.table_of(third, "boris"),
        lambda: audiences.get(third, "boris"),
        lambda: audiences.save(third, "Mine now", [], "boris"),
        lambda: audiences.delete(third, "boris"),
    ):
        with pytest.raises(NotFound):
            await not_theirs()
    assert (await audiences.table_of(first, "boris"))[0].count == 1
    saved = await audiences.get(first, "boris")
    assert (saved.name, saved.tags) == ("November clients", ["VIP", "Moscow"]), "tags once, as first written"


async def test_audiences_are_found_by_name_and_by_tag(db) -> None:
    table = wizard_table.from_csv_text("phone\n79990000001\n")
    for name, tags in (("November clients", ["vip"]), ("December leads", ["leads", "vip"]), ("Staff", [])):
        await audiences.save(await audiences.keep_upload(name, "x.csv", table), name, tags, name)
    await audiences.keep_upload("anna", "unsaved.csv", table)
    assert [a.name for a in await audiences.saved()] == ["Staff", "December leads", "November clients"]
    assert [a.name for a in await audiences.saved(search="NOV")] == ["November clients"]
    assert [a.name for a in await audiences.saved(tag="vip")] == ["December leads", "November clients"]
    assert await audiences.tags() == ["leads", "vip"]


async def test_a_bad_name_or_tags_are_refused_naming_the_field(db) -> None:
    audience_id = await audiences.keep_upload(
        "anna", "a.csv", wizard_table.from_csv_text("phone\n79990000001\n")
    )
    with pytest.raises(InvalidInput) as unnamed:
        await audiences.save(audience_id, "   ", [], "anna")
    assert [p.field for p in unnamed.value.problems] == ["name"]
    with pytest.raises(InvalidInput) as tagged:
        await audiences.save(audience_id, "ok", ["x" * 51, *(f"t{i}" for i in range(25))], "anna")
    assert [(p.field, p.index) for p in tagged.value.problems] == [("tags", 0), ("tags", None)]
    with pytest.raises(InvalidInput) as hidden:
        await audiences.save(audience_id, "Sale\u202elasrever", ["ok", "v\u200bip"], "anna")
    assert [(p.field, p.index) for p in hidden.value.problems] == [("name", None)]
    with pytest.raises(InvalidInput) as hidden_tag:
        await audiences.save(audience_id, "Sale", ["ok", "v\u200bip", "\x00"], "anna")
    assert [(p.field, p.index) for p in hidden_tag.value.problems] == [("tags", 1), ("tags", 2)]
    for missing in ("aud_nope", "../../etc", ""):
        with pytest.raises(NotFound):
            await audiences.save(missing, "ok", [], "anna")
        with pytest.raises(NotFound):
            await audiences.delete(missing, "anna")


@pytest.fixture
async def admin(user: User, db, broker_started) -> User:
    await users.create_first_user("anna", "correct horse")
    await sign_in_page(user, "anna", "correct horse")
    return user


async def _remembered(key: str, value: object) -> bool:
    """Whether anna's draft remembers `value` (or what the function `value` accepts) as `key`."""
    remembered = (await wizard_drafts.recall("anna")).get(key)
    return value(remembered) if callable(value) and remembered is not None else remembered == value


async def _after_confirming(user: User, action: str, yes: str) -> None:
    """Click the control marked `action`, then the one marked `yes` in the dialog that asks first."""
    user.find(marker=action).click()
    await user.should_see(marker=yes, retries=20)
    user.find(marker=yes).click()


async def _paste(user: User, lines: list[str]) -> None:
    user.find("Paste").click()
    user.find(marker="paste").type("\n".join(lines))
    user.find("Use these rows").click()


async def test_a_reload_keeps_the_wizards_draft_and_creating_the_contract_ends_it(admin: User) -> None:
    user = admin
    sales = await Account.create(name="Sales", use_limits=False)
    await user.open("/contracts/new")
    await user.should_not_see("Your draft is as you left it.")
    user.find(marker="accounts").click()
    user.find("Sales · connected").click()
    await _paste(user, ["phone,name", f"{phone(1)},Anna", f"{phone(2)},Boris"])
    await user.should_see("2 rows · columns: phone, name", retries=50)
    user.find("Message").type("Hello {name}!")
    user.find("Contract name").type("Reloaded")
    user.find(kind=ui.radio).elements.pop().set_value("no")  # Create without starting
    user.find(marker="send-days").elements.pop().set_value([1, 2, 3, 4, 5])
    await until(lambda: _remembered("when", lambda w: w[0] == "no" and w[-1] == "1,2,3,4,5"), "the draft")
    draft = await wizard_drafts.recall("anna")
    assert (draft["accounts"], draft["template"], draft["name"]) == ([sales.id], "Hello {name}!", "Reloaded")

    await user.open("/contracts/new")  # a reload
    await user.should_see("Your draft is as you left it.")
    await user.should_see("2 rows · columns: phone, name")
    assert user.find(kind=ui.textarea, content="Hello {name}!").elements, "the message as it was"
    assert user.find(marker="accounts").elements.pop().value == [sales.id]
    assert user.find("Contract name").elements.pop().value == "Reloaded"
    assert user.find(kind=ui.radio).elements.pop().value == "no", "the start chosen, not the default"
    assert user.find(marker="send-days").elements.pop().value == [1, 2, 3, 4, 5]
    user.find("Check the recipients").click()
    await user.should_see("ready to send", retries=100)
    user.find("Create contract").click()
    await user.should_see("Contract created with 2 recipients", retries=50)
    contract = await Contract.get(name="Reloaded")
    assert contract.status == "PENDING" and contract.send_window["days"] == [1, 2, 3, 4, 5]
    messages = (
        await Recipient.filter(contract_id=contract.id).order_by("position").values_list("message", flat=True)
    )
    assert messages == ["Hello Anna!", "Hello Boris!"]
    assert await wizard_drafts.recall("anna") == {}
    assert not await Audience.exists(), "the draft's upload goes with it"
    await user.open("/contracts/new")
    await user.should_not_see("Your draft is as you left it.")


async def test_an_upload_saved_as_an_audience_is_listed_retagged_and_used_for_a_new_contract(
    admin: User,
) -> None:
    user = admin
    await Account.create(name="Sales", use_limits=False)
    await user.open("/contracts/new")
    await _paste(user, ["phone,name", f"{phone(1)},Anna"])
    await user.should_see("1 row · columns: phone, name", retries=50)
    user.find(marker="save-audience").click()
    await user.should_see("Type a tag and press Enter", retries=20)
    user.find(marker="audience-name").type("Regulars")
    user.find(marker="audience-tags").elements.pop().set_value(["vip"])
    user.find(marker="save-audience-name").click()
    await user.should_see("Audience: Regulars", retries=50)

    await user.open("/audiences")
    await user.should_see("Regulars")
    await user.should_see("#vip")
    user.find(marker="edit-audience").click()
    await user.should_see("Type a tag and press Enter", retries=20)
    user.find(marker="audience-name").elements.pop().set_value("Regulars, Moscow")
    user.find(marker="save-audience-name").click()
    await user.should_see("Regulars, Moscow", retries=50)
    await _after_confirming(user, "contract-from-audience", "confirm-replace-draft")  # the wizard's draft
    await user.should_not_see("Your draft is as you left it.", retries=50)  # started again
    await user.should_see("1 row · columns: phone, name", retries=50)
    await user.should_see("Audience: Regulars, Moscow")

    await user.open("/audiences")
    await _after_confirming(user, "delete-audience", "confirm-delete-audience")
    await user.should_see("No audience here", retries=50)


async def test_a_link_to_the_wizard_with_an_audience_replaces_no_draft_without_asking(admin: User) -> None:
    """`GET /contracts/new?audience=…` (a link anyone could send) fills in only an empty draft; a
    draft held is kept unless the user answers the page's question with Replace."""
    user = admin
    table = wizard_table.from_csv_text(f"phone,name\n{phone(1)},Anna\n")
    linked = await audiences.keep_upload("someone", "x.csv", table)
    await audiences.save(linked, "Linked", [], "someone")
    await user.open("/contracts/new")
    await _paste(user, ["phone", phone(2)])
    await user.should_see("1 row · columns: phone", retries=50)
    user.find("Message").type("My own draft")
    await until(lambda: _remembered("template", "My own draft"), "the draft remembered in the background")

    await user.open(f"/contracts/new?audience={linked}")
    await user.should_see("Replace the draft in the wizard?", retries=20)
    assert (await wizard_drafts.recall("anna")).get("template") == "My own draft", "nothing replaced yet"
    user.find("Keep the draft").click()
    await user.should_not_see("Replace the draft in the wizard?", retries=20)
    assert (await wizard_drafts.recall("anna")).get("template") == "My own draft"
    assert user.find(kind=ui.textarea, content="My own draft").elements

    await user.open(f"/contracts/new?audience={linked}")
    await user.should_see(marker="confirm-replace-draft", retries=20)
    user.find(marker="confirm-replace-draft").click()
    await user.should_see("Audience: Linked", retries=50)
    await until(lambda: _remembered("audience", linked), "the draft starts again with the audience")
    assert (await wizard_drafts.recall("anna")).get("template") != "My own draft", "the draft replaced"

    await wizard_drafts.forget("anna")
    await user.open(f"/contracts/new?audience={linked}")  # an empty draft is filled in at once
    await user.should_see("Audience: Linked", retries=50)
    await user.should_not_see("Replace the draft in the wizard?")


async def test_start_over_forgets_the_draft_and_its_upload(admin: User) -> None:
    user = admin
    await user.open("/contracts/new")
    await _paste(user, ["phone", phone(1)])
    await user.should_see("1 row · columns: phone", retries=50)
    user.find("Message").type("Hi!")
    await until(lambda: _remembered("template", "Hi!"), "the draft remembered in the background")
    await user.open("/contracts/new")
    await user.should_see("Your draft is as you left it.")
    await _after_confirming(user, "start-over", "confirm-start-over")
    await user.should_not_see("Your draft is as you left it.", retries=50)
    assert await wizard_drafts.recall("anna") == {}
    assert not await Audience.exists()
