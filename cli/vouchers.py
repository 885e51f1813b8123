from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from cli.common import contact_id_for, deliver_now
from privacy.audit import record
from settings import DEFAULT_KIND
from store.models import Registration, Voucher, utcnow
from vouchers import stores
from vouchers.delivery import notify_new, remind_unclaimed
from vouchers.issuance import issue_due
from vouchers.kinds import ONCE, fits
from vouchers.paper import PAPERS
from vouchers.printing import NothingToPrint, for_paper, for_person, print_vouchers
from vouchers.stats import usage_for, weekly_stats

group = AppGroup("vouchers", help="The weekly voucher cycle, stores and figures.")


@group.command("add-store")
@click.argument("name")
@click.option("--kind", "kinds", multiple=True, default=[DEFAULT_KIND], show_default=True,
              help="A kind of voucher its tills may spend (repeat for more).")
def add_store(name, kinds):
    """Add a store and print its key for the till (shown once)."""
    runtime = current_app.extensions["dda"]
    try:
        kinds = stores.clean_kinds(kinds, runtime.settings.vouchers.kinds)
    except stores.StoreError as error:
        raise click.BadParameter(str(error), param_hint="--kind") from None
    with runtime.session() as session:
        try:
            _, key = stores.add_store(session, name, kinds, actor="cli")
        except stores.StoreError as error:
            raise click.ClickException(str(error)) from None
        session.commit()
    click.echo(key)


@group.command("disable-store")
@click.argument("name")
def disable_store(name):
    """Refuse a store's tills from now on (it left the program, or its key leaked)."""
    runtime = current_app.extensions["dda"]
    with runtime.session() as session:
        try:
            store = stores.disable_store(session, stores.store_named(session, name).id, actor="cli")
        except stores.StoreError as error:
            raise click.ClickException(str(error)) from None
        session.commit()
        click.echo(f"disabled {store.name}: its tills are refused from now on")


@group.command("stores")
@click.option("--json", "as_json", is_flag=True)
def list_stores(as_json):
    """Every store: the kinds of voucher it takes, whether it is disabled, payments taken."""
    runtime = current_app.extensions["dda"]
    with runtime.session() as session:
        rows = stores.stores(session)
    if as_json:
        click.echo(json.dumps([{"name": r.name, "kinds": r.kinds, "redemptions": r.redemptions,
                                "disabled_at": r.disabled_at.isoformat() if r.disabled_at else None}
                               for r in rows], indent=2, ensure_ascii=False))
        return
    for r in rows:
        click.echo(f"{r.name:<40} {','.join(r.kinds):<24} {'disabled' if r.disabled_at else 'enabled':<9} "
                   f"{r.redemptions} payment(s)")


@group.command("issue")
@click.option("--kind", "kinds", multiple=True,
              help="A kind of voucher (vouchers.kinds; repeat for more). Default: every kind.")
@click.option("--period", help="ISO week such as 2026-W49 for weekly kinds, a month such as 2026-12 for monthly "
                               "ones (default: each kind's current period).")
@click.option("--notify/--no-notify", default=True, help="Tell people their voucher is ready (default: yes).")
def issue(kinds, period, notify):
    """Issue each kind's vouchers due to every eligible person; safe to run again."""
    runtime = current_app.extensions["dda"]
    kinds = [kind.strip().lower() for kind in kinds]
    with runtime.session() as session:
        total = session.scalar(select(func.count()).select_from(Registration).where(Registration.status == "included"))
    try:
        with click.progressbar(length=total * len(kinds or runtime.settings.vouchers.kinds), label="issuing",
                               file=None, show_pos=True) as bar:
            per_kind = issue_due(runtime, kinds=kinds or None, period=period, progress=bar.update)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--kind" if "kind" in str(error)[:20] else "--period") \
            from None
    for name, counts in per_kind.items():
        click.echo(f"{name} {counts['period']}: issued {counts['issued']}, already issued {counts['already issued']}")
    if notify:
        notified = notify_new(runtime, sorted({counts["period"] for counts in per_kind.values()}))
        deliver_now(runtime)
        click.echo(", ".join(f"{k}: {v}" for k, v in sorted(notified.items())) or "nobody to notify")
    failed = sum(counts["failed"] for counts in per_kind.values())
    if failed:
        click.echo(f"failed for {failed} (registration ids in the log); run this again to retry them", err=True)
        sys.exit(1)


@group.command("remind")
def remind():
    """Remind people of vouchers they have not received; after the last reminder, the helpdesk."""
    runtime = current_app.extensions["dda"]
    counts = remind_unclaimed(runtime)
    deliver_now(runtime)
    click.echo(", ".join(f"{k}: {v}" for k, v in counts.items()))


@group.command("stats")
@click.option("--json", "as_json", is_flag=True)
def stats(as_json):
    """Issued, claimed, spent per week; usage per kind (spent within 7/14/28 days, never used),
    store, weekday and week, with small cells suppressed. No names or numbers."""
    runtime = current_app.extensions["dda"]
    with runtime.session() as session:
        figures = weekly_stats(session)
        figures["usage"] = usage_for(session, runtime.settings)
    if as_json:
        click.echo(json.dumps(figures, indent=2))
        return
    for week in figures["weeks"]:
        click.echo(f"{week['period']}: issued {week['issued']}, delivered {week['delivered']}, "
                   f"claimed {week['claimed']}, spent {week['spent_cents'] / 100:.2f} of "
                   f"{week['issued_cents'] / 100:.2f} ({week['share_used']:.0%})")
    usage = figures["usage"]
    for kind in usage["kinds"]:
        if kind["suppressed"]:
            click.echo(f"{kind['kind']}: fewer than {usage['min_count']} vouchers (suppressed)")
            continue
        within = ", ".join(f"{days} days " + ("suppressed" if cell["suppressed"] else f"{cell['share_of_issued']:.0%}")
                           for days, cell in kind["spent_within"].items())
        click.echo(f"{kind['kind']}: {kind['count']} vouchers, {kind['share_spent']:.0%} of the value spent "
                   f"(within {within})")


@group.command("revoke")
@click.argument("code")
@click.option("--reason", required=True, help="Why, for the audit log (a lost phone, a mistake).")
def revoke(code, reason):
    """Withdraw a voucher: the till refuses it from now on and the chat no longer sends it."""
    runtime = current_app.extensions["dda"]
    code = code.strip().upper()
    reason = reason.strip()
    if not reason:
        raise click.BadParameter("say why", param_hint="--reason")
    with runtime.session() as session:
        if not runtime.vouchers.revoke(session, code):
            raise click.ClickException("no voucher has this code")
        voucher = session.scalar(select(Voucher).where(Voucher.code == code))
        subject = f"voucher:{voucher.id}" if voucher else "voucher:unknown"
        if voucher is not None and voucher.revoked_at is None:
            voucher.revoked_at, voucher.revoked_reason = utcnow(), reason[:200]
        record(session, "cli", "revoked voucher", subject, reason)
        session.commit()
    click.echo(f"revoked {code}: the till refuses it from now on")


@group.command("print")
@click.option("--period", required=True, help="The vouchers' period: an ISO week (2026-W49), a month (2026-12).")
@click.option("--phone", help="One person's vouchers of that period.")
@click.option("--all-paper", "all_paper", is_flag=True, help="Everyone registered without WhatsApp.")
@click.option("--paper", type=click.Choice(sorted(PAPERS)), default="a4", show_default=True,
              help="A4 sheets, or an 80 mm receipt printer's roll.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True),
              help="The PDF file to write.")
def print_command(period, phone, all_paper, paper, out):
    """Print vouchers to hand out at the desk (one page each, in the person's language);
    each is audited and marked as handed out in person."""
    runtime = current_app.extensions["dda"]
    if not any(fits(kind, period) for kind in runtime.settings.vouchers.kinds.values()):
        raise click.BadParameter(f"{period!r} is no voucher period: an ISO week such as 2026-W49, a month such "
                                 f"as 2026-12, or {ONCE} for a one-off kind", param_hint="--period")
    if bool(phone) == all_paper:
        raise click.UsageError("give either --phone or --all-paper")
    with runtime.session() as session:
        try:
            if phone:
                contact_id = contact_id_for(runtime, session, phone)
                if contact_id is None:
                    raise click.ClickException("no one is registered with that number")
                vouchers = for_person(session, runtime, contact_id, period)
            else:
                vouchers = for_paper(session, runtime, period)
        except NothingToPrint as error:
            raise click.ClickException(str(error)) from None
        pdf = print_vouchers(session, runtime, vouchers, paper=paper, actor="cli")
        with open(out, "wb") as handle:
            handle.write(pdf)
        session.commit()
    click.echo(f"{len(vouchers)} voucher(s) of {period} written to {out} ({paper}); marked as handed out in person")
