"""The team: users invited by one-time links, two roles (admin: accounts, limits, users; operator:
contracts), and the installation never left without an admin."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from nicegui.testing import User as SimulatedUser

from models import Account, Contract, ContractStatus, Invite, User, WebSession
from services import contracts, signin, team, users
from services.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyAttempts
from services.users import ADMIN, OPERATOR
from tests.helpers import phone, sign_in_page, until
from ui import frame

HERE = "127.0.0.1"


pytestmark = pytest.mark.usefixtures("fresh_throttle")


@pytest.fixture
async def admin(db) -> str:
    await users.create_first_user("anna", "correct horse")
    return "anna"


async def test_an_invitation_makes_one_user_with_its_role_and_is_used_up(admin: str) -> None:
    token = await team.invite(admin, OPERATOR)
    assert await team.invited_role(token) == OPERATOR
    ticket = await signin.join(token, "boris", "battery staple", HERE)
    assert await signin.session_user(await signin.redeem(ticket) or "") == "boris"
    assert await users.role_of("boris") == OPERATOR
    assert await team.invited_role(token) is None
    with pytest.raises(NotFound, match="used up"):
        await team.join(token, "vera", "battery staple")
    assert not await User.filter(username="vera").exists()
    assert [i.used_by for i in await Invite.all()] == ["boris"]
    assert await team.open_invites() == []


async def test_a_taken_or_bad_username_leaves_the_invitation_unused(admin: str) -> None:
    token = await team.invite(admin, ADMIN)
    with pytest.raises(Conflict) as taken:
        await team.join(token, "ANNA", "battery staple")
    assert [p.field for p in taken.value.problems] == ["username"]
    with pytest.raises(InvalidInput) as bad:
        await team.join(token, " ", "short")
    assert [p.field for p in bad.value.problems] == ["username", "password"]
    with pytest.raises(InvalidInput):
        await team.join(token, users.KEY_USER, "battery staple")
    assert await team.invited_role(token) == ADMIN
    await team.join(token, "boris", "battery staple")
    assert await users.role_of("boris") == ADMIN


@pytest.mark.parametrize(
    "name",
    [
        "an\u200bna",
        "anna\u202e",
        "\u2060anna",
        "\ufeffanna",
        "an\u200dna",
        "a\x00nna",
        "an\nna",
        "an\ue000na",
    ],
)
async def test_a_username_with_a_control_or_invisible_character_is_refused(admin: str, name: str) -> None:
    """A zero-width or right-to-left character made a name that looks like "anna" and is not."""
    token = await team.invite(admin, OPERATOR)
    with pytest.raises(InvalidInput) as refused:
        await team.join(token, name, "battery staple")
    [problem] = refused.value.problems
    assert problem.field == "username" and "U+" in problem.message
    assert await User.all().count() == 1


@pytest.mark.parametrize(
    ("existing", "lookalike"),
    [
        ("anna", "ANNA"),
        ("anna", "\uff41\uff4e\uff4e\uff41"),  # full-width: NFKC makes it "anna"
        ("cop", "\u0441\u043e\u0440"),  # Cyrillic с, о, р: no Latin letter in it
        ("mary", "rnary"),
        ("ilya", "Ilya"),
        ("paul0", "paulo"),
        ("anna", "\u0430\u043f\u043f\u0430"),  # Cyrillic а, п, п, а: no Latin letter in it
        ("anna", "ann\u00e1"),  # an accent
        ("anna", "an\u034fna"),  # characters that show nothing: a combining grapheme joiner,
        ("anna", "anna\ufe0f"),  # a variation selector,
        ("anna", "an\u3164na"),  # a Hangul filler,
        ("anna", "anna\u2800"),  # a Braille blank
    ],
)
async def test_a_username_that_looks_like_an_existing_users_is_refused(
    admin: str, existing: str, lookalike: str
) -> None:
    if existing != admin:
        await team.join(await team.invite(admin, OPERATOR), existing, "battery staple")
    token = await team.invite(admin, ADMIN)
    with pytest.raises(Conflict) as taken:
        await team.join(token, lookalike, "battery staple")
    assert [(p.field, p.message) for p in taken.value.problems] == [
        ("username", "looks like an existing user's name")
    ]
    assert await team.invited_role(token) == ADMIN  # the link is still good


async def test_a_username_mixing_latin_and_cyrillic_letters_is_refused(admin: str) -> None:
    """Cyrillic а (U+0430) among Latin letters: "аdmin" would pass for "admin" once there is one."""
    token = await team.invite(admin, OPERATOR)
    with pytest.raises(InvalidInput) as mixed:
        await team.join(token, "\u0430dmin", "battery staple")
    assert [p.field for p in mixed.value.problems] == ["username"]
    for name in ("Борис", "boris.k", "Ελένη"):  # one alphabet each
        await team.join(await team.invite(admin, OPERATOR), name, "battery staple")
    assert await User.all().count() == 4


async def test_an_invitation_note_is_a_name_like_any_other(admin: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        await team.invite(admin, OPERATOR, "for Boris\u202e")
    assert [p.field for p in refused.value.problems] == ["note"]
    with pytest.raises(InvalidInput):
        await team.invite(admin, OPERATOR, "x" * 201)
    await team.invite(admin, OPERATOR, "  for Boris, sales  ")
    assert [i.note for i in await team.open_invites()] == ["for Boris, sales"]


async def test_expired_and_revoked_invitations_let_nobody_in(admin: str) -> None:
    expired, revoked = await team.invite(admin, OPERATOR), await team.invite(admin, OPERATOR)
    await Invite.filter(id=(await Invite.all().order_by("id").first()).id).update(
        expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    (still_open,) = await team.open_invites()
    await team.revoke(admin, still_open.id)
    for token in (expired, revoked):
        with pytest.raises(NotFound):
            await team.join(token, "boris", "battery staple")
    with pytest.raises(NotFound):
        await team.revoke(admin, still_open.id)
    assert not await User.filter(username="boris").exists()


async def test_guessing_invitation_links_is_throttled_per_address(admin: str) -> None:
    for _ in range(signin.throttle.free + 1):
        with pytest.raises(NotFound):
            await signin.join("a guess", "boris", "battery staple", HERE)
    with pytest.raises(TooManyAttempts):
        await signin.join(await team.invite(admin, OPERATOR), "boris", "battery staple", HERE)
    await signin.join(await team.invite(admin, OPERATOR), "boris", "battery staple", "127.0.0.2")


async def test_only_an_admin_invites_changes_roles_and_removes_users(admin: str) -> None:
    await team.join(await team.invite(admin, OPERATOR), "boris", "battery staple")
    for action in (
        lambda: team.invite("boris", ADMIN),
        lambda: team.set_role("boris", "boris", ADMIN),
        lambda: team.remove("boris", "anna"),
        lambda: team.invite("nobody", ADMIN),
    ):
        with pytest.raises(Forbidden):
            await action()
    assert await users.role_of(users.KEY_USER) == ADMIN, "signed in with the API key: an admin"
    with pytest.raises(InvalidInput):
        await team.set_role(admin, "boris", "owner")
    await team.set_role(users.KEY_USER, "boris", ADMIN)
    assert await users.role_of("boris") == ADMIN


async def test_an_operator_cancels_and_deletes_only_the_contracts_they_created(
    admin: str, broker_started
) -> None:
    """An admin (and the API key) may cancel or delete any contract; an operator only their own, not
    an admin's, another operator's, or one whose creator is unknown (older than the column)."""
    await team.join(await team.invite(admin, OPERATOR), "boris", "battery staple")
    await team.join(await team.invite(admin, OPERATOR), "vera", "battery staple")
    account = await Account.create(name="Sales")

    async def contract(created_by: str | None) -> str:
        made = await contracts.create_contract(account.id, "", [phone(1)], ["hi"], created_by=created_by)
        return made.contract.id

    for creator in (admin, "vera", users.KEY_USER, None):
        theirs = await contract(creator)
        for action in (contracts.cancel_contract, contracts.delete_contract):
            with pytest.raises(Forbidden, match="only the contracts they created"):
                await action(theirs, "boris")
        assert (await Contract.get(id=theirs)).status == ContractStatus.PENDING, "left as it was"
    own = await contract("boris")
    assert (await contracts.cancel_contract(own, "boris")).status == ContractStatus.CANCELLED
    await contracts.delete_contract(own, "boris")
    assert not await Contract.exists(id=own)
    for actor in (admin, users.KEY_USER):
        theirs = await contract("boris")
        assert (await contracts.cancel_contract(theirs, actor)).status == ContractStatus.CANCELLED
        await contracts.delete_contract(theirs, actor)
    removed = await contract("vera")
    await team.remove(admin, "vera")
    with pytest.raises(Forbidden):
        await contracts.cancel_contract(removed, "vera")
    await team.set_role(admin, "boris", ADMIN)
    await contracts.delete_contract(removed, "boris")  # an admin now: any contract


async def test_the_last_admin_can_be_neither_demoted_nor_removed(admin: str) -> None:
    await team.join(await team.invite(admin, ADMIN), "boris", "battery staple")
    # Two admins demoting each other at once: one wins, the other is refused.
    results = await asyncio.gather(
        team.set_role("anna", "boris", OPERATOR),
        team.set_role("boris", "anna", OPERATOR),
        return_exceptions=True,
    )
    assert sum(r is None for r in results) == 1, results
    assert all(r is None or isinstance(r, Conflict | Forbidden) for r in results), results
    assert await User.filter(role=ADMIN).count() == 1
    (last,) = await User.filter(role=ADMIN).values_list("username", flat=True)
    with pytest.raises(Conflict, match="last admin"):
        await team.set_role(last, last, OPERATOR)
    with pytest.raises(Conflict, match="last admin"):
        await team.remove(last, last)
    assert await users.role_of(last) == ADMIN


async def test_an_admin_no_more_invites_nobody_with_the_links_they_made(admin: str) -> None:
    """An admin demoted or removed keeps no way back in through a link they made before."""
    await team.join(await team.invite(admin, ADMIN), "boris", "battery staple")
    await team.join(await team.invite(admin, ADMIN), "vera", "battery staple")
    kept_by_boris = await team.invite("boris", ADMIN)
    kept_by_vera = await team.invite("vera", ADMIN)
    await team.set_role(admin, "boris", OPERATOR)
    await team.remove(admin, "vera")
    for token in (kept_by_boris, kept_by_vera):
        assert await team.invited_role(token) is None
        with pytest.raises(NotFound):
            await team.join(token, "back again", "battery staple")
    assert await team.open_invites() == []


async def test_a_link_whose_maker_is_an_admin_no_more_is_refused(admin: str) -> None:
    await team.join(await team.invite(admin, ADMIN), "boris", "battery staple")
    token = await team.invite("boris", OPERATOR)
    await User.filter(username="boris").update(role=OPERATOR)  # as if demoted by hand, links left
    with pytest.raises(NotFound):
        await team.join(token, "vera", "battery staple")


async def test_a_removed_user_is_signed_out_everywhere_at_once(admin: str) -> None:
    await team.join(await team.invite(admin, OPERATOR), "boris", "battery staple")
    token = await signin.redeem(await signin.with_password("boris", "battery staple", HERE))
    assert await signin.session_user(token) == "boris"
    await team.remove(admin, "boris")
    assert await signin.session_user(token) is None
    assert not await WebSession.filter(username="boris").exists()
    assert not await users.authenticate("boris", "battery staple")
    # A session made for them as they were removed (their sign-in checked just before) signs nobody in.
    late = await signin.redeem(await signin._ticket("boris"))
    assert await signin.session_user(late) is None


async def test_an_admin_invites_from_the_team_page_and_the_new_operator_works_with_contracts_only(
    user: SimulatedUser, create_user: Callable[[], SimulatedUser], admin: str, broker_started
) -> None:
    await sign_in_page(user, "anna", "correct horse")
    await user.open("/team")
    await user.should_see("No open invitation")
    user.find(marker="invite").click()
    await user.should_see("Make the link")
    assert user.find(marker="invite-role").elements.pop().value == OPERATOR, "the least power by default"
    user.find(marker="invite-note").type("Boris from sales")
    user.find(marker="make-invite").click()
    await user.should_see("The invitation link", retries=50)
    link = user.find(marker="invite-link").elements.pop().value
    assert "/invite/" in link

    await user.should_see("Boris from sales")  # the open invitation, told apart by its note
    newcomer = create_user()
    await newcomer.open(link.removeprefix("http://test"))
    await newcomer.should_see("You are invited to join the team as an operator.")
    newcomer.find("Username").type("boris")
    newcomer.find("Password").type("battery staple")
    newcomer.find("The password again").type("battery staple")
    newcomer.find(marker="join").click()
    await newcomer.should_see("Overview", retries=50)
    await newcomer.should_not_see("Team")
    await newcomer.open("/accounts")
    await newcomer.should_see("Only an admin adds, pairs and changes accounts.")
    await newcomer.should_not_see("Add account")
    await newcomer.open("/team")
    await newcomer.should_see("Only an admin can open this page")
    await newcomer.should_not_see("anna")

    await newcomer.open(link.removeprefix("http://test"))
    await newcomer.should_see("This invitation is used up, revoked or expired")
    await user.open("/team")
    await user.should_see("boris")


async def test_an_open_page_follows_a_change_of_role(
    user: SimulatedUser, admin: str, broker_started, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(frame, "SESSION_CHECK_S", 0.2)
    await team.join(await team.invite(admin, ADMIN), "boris", "battery staple")
    await sign_in_page(user, "boris", "battery staple")
    await user.open("/accounts")
    await user.should_see("Add account")
    await team.set_role(admin, "boris", OPERATOR)
    await user.should_see("Only an admin adds, pairs and changes accounts.", retries=50)
    await team.remove(admin, "boris")
    page = user.client

    async def forgotten() -> bool:
        return page.is_deleted

    await until(forgotten, "the removed user's page is forgotten", seconds=10)
