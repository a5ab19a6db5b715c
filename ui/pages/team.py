"""The team (admins only): the users with their roles, changed or removed; invitations by one-time
link, made and revoked. Who may do what is services/team.py's to decide."""

from __future__ import annotations

from nicegui import ui

from models import Invite, User
from services import team
from services.users import ADMIN, OPERATOR
from ui.frame import aria, attempt, confirm, empty_state, page_user, person
from ui.i18n import N_, _, when

ROLE_NAMES = {ADMIN: N_("Admin"), OPERATOR: N_("Operator")}
ROLE_HELP = N_(
    "Admins manage accounts, their limits and the team, and work with contracts; operators work with "
    "contracts and audiences."
)


async def team_page() -> None:
    who = page_user()
    ui.label(_(ROLE_HELP)).classes("text-body2 text-grey-8")

    @ui.refreshable
    async def listing() -> None:
        for user in await team.members():
            _member(user, who, listing)
        ui.label(_("Open invitations")).classes("text-h6 q-mt-md")
        invites = await team.open_invites()
        if not invites:
            empty_state(
                _("No open invitation"), _("Invite someone: they choose their own name and password.")
            )
        for invitation in invites:
            _invitation(invitation, who, listing)

    with ui.row().classes("w-full justify-end"):
        ui.button(_("Invite"), icon="person_add", on_click=lambda: _invite(who, listing)).mark("invite")
    await listing()


def _roles() -> dict[str, str]:
    return {role: _(name) for role, name in ROLE_NAMES.items()}


def _member(user: User, who: str, listing: ui.refreshable) -> None:
    with ui.card().classes("w-full").props(f"data-user={user.id}"), ui.row().classes("w-full items-center"):
        ui.icon("person", size="md")
        with ui.column().classes("gap-0"):
            name = user.username + (" " + _("(you)") if user.username == who else "")
            ui.label(name).classes("text-subtitle1 text-weight-medium")
            ui.label(_("since {time}").format(time=when(user.created_at))).classes("text-caption text-grey-8")
        ui.space()

        async def changed(role: str) -> None:
            if user.username == who and role != ADMIN and not await _stop_being_admin():
                listing.refresh()
                return
            await attempt(lambda: team.set_role(who, user.username, role), _("Saved"))
            listing.refresh()

        role = ui.select(_roles(), value=user.role, on_change=lambda e: changed(e.value))
        aria(role.props("outlined dense"), _("Role of {name}").format(name=user.username)).mark("role")
        remove = ui.button(icon="person_remove", on_click=lambda: _remove(who, user, listing))
        aria(remove.props("flat round color=negative"), _("Remove {name}").format(name=user.username))
        remove.mark("remove-user")


async def _stop_being_admin() -> bool:
    text = _(
        "You lose the Team page and the controls of the accounts at once; another admin can give them back."
    )
    return await confirm(_("Stop being an admin?"), text, _("Make me an operator"), _("Stay an admin"))


async def _remove(who: str, user: User, listing: ui.refreshable) -> None:
    asked = _("Remove {name}?").format(name=user.username)
    text = _("They are signed out at once and cannot sign in again. The audiences they saved stay.")
    if await confirm(asked, text, _("Remove"), _("Keep"), "confirm-remove-user"):
        await attempt(lambda: team.remove(who, user.username), _("Removed"))
        listing.refresh()


def _invitation(invitation: Invite, who: str, listing: ui.refreshable) -> None:
    for_whom = invitation.note or _("an invitation")
    with ui.row().classes("w-full items-center gap-x-4").props(f"data-invite={invitation.id}"):
        ui.icon("mail_outline")
        ui.label(for_whom).classes("text-weight-medium")
        ui.label(_(ROLE_NAMES.get(invitation.role, invitation.role)))
        made = _("made by {name} at {time}").format(
            name=person(invitation.created_by), time=when(invitation.created_at)
        )
        ui.label(made).classes("text-caption text-grey-8")
        ui.label(_("good until {time}").format(time=when(invitation.expires_at))).classes("text-caption")
        ui.space()

        async def revoke() -> None:
            asked = _("Revoke the invitation for {name}?").format(name=for_whom)
            text = _("Its link stops working at once.")
            if await confirm(asked, text, _("Revoke"), _("Keep it"), "confirm-revoke"):
                await attempt(lambda: team.revoke(who, invitation.id), _("Revoked"))
                listing.refresh()

        undo = ui.button(_("Revoke"), on_click=revoke).props("flat color=negative").mark("revoke")
        aria(undo, _("Revoke the invitation for {name}").format(name=for_whom))


async def _invite(who: str, listing: ui.refreshable) -> None:
    """Make an invitation for the role chosen and show its link once (only its hash is kept)."""
    with ui.context.client.layout, ui.dialog() as dialog, ui.card().classes("w-[28rem] gap-3"):
        ui.label(_("Invite someone")).classes("text-h6")
        role = ui.radio(_roles(), value=OPERATOR).props("inline").mark("invite-role")
        ui.label(_(ROLE_HELP)).classes("text-caption text-grey-8")
        note = ui.input(_("For whom (a note that tells invitations apart)")).props("outlined maxlength=200")
        note.classes("w-full").mark("invite-note")
        with ui.row().classes("w-full justify-end"):
            ui.button(_("Cancel"), on_click=lambda: dialog.submit(False)).props("flat")
            ui.button(_("Make the link"), on_click=lambda: dialog.submit(True)).mark("make-invite")
    make, chosen, noted = await dialog, role.value, note.value or ""
    dialog.delete()
    token = await attempt(lambda: team.invite(who, chosen, noted)) if make else None
    if not token:
        return
    listing.refresh()
    request = ui.context.client.request
    link = f"{str(request.base_url).rstrip('/')}/invite/{token}" if request else f"/invite/{token}"
    with ui.context.client.layout, ui.dialog() as shown, ui.card().classes("w-[32rem] gap-3"):
        ui.label(_("The invitation link")).classes("text-h6")
        ui.label(
            _(
                "Send it to the person you invite. It works once, for {days} days, and is shown only now."
            ).format(days=team.INVITE_TTL.days)
        ).classes("text-body2")
        ui.input(value=link).props("outlined readonly").classes("w-full font-mono").mark("invite-link")
        with ui.row().classes("w-full justify-end"):
            ui.button(_("Copy"), icon="content_copy", on_click=lambda: _copied(link)).props("flat")
            ui.button(_("Done"), on_click=shown.close)
    shown.open()


def _copied(link: str) -> None:
    ui.clipboard.write(link)
    ui.notify(_("Copied"), type="positive")
