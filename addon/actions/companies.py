"""A company's card actions: open it, its form, and saving its name and custom fields."""

from __future__ import annotations

import functools
from collections.abc import Callable

from addon.actions import Handler, action
from addon.actions.forms import Invalid, invalid, text, typed_custom_fields
from addon.context import Request
from cards import errors as error_cards
from cards import responses
from cards.contact import company_card, company_form
from models import rules
from models.domain import Company


def with_company(update: bool = False) -> Callable[[Callable[[Request, Company], dict]], Handler]:
    """Load the company the card's `domain` names, or answer a "not found" card (pushed, or with `update`
    in place of the form that asked, saying so)."""
    def decorate(handler: Callable[[Request, Company], dict]) -> Handler:
        @functools.wraps(handler)
        def loaded(req: Request) -> dict:
            company = req.repo.get_company(req.event.parameter("domain").lower())
            if company is None:
                missing = error_cards.not_found_card("company")
                return responses.update_card(missing, "Company not found") if update else responses.push_card(missing)
            return handler(req, company)
        return loaded
    return decorate


def show_company(req: Request, company: Company, notification: str | None = None) -> dict:
    contacts = req.repo.get_contacts(company.contact_ids)
    card = company_card(company, list(contacts.values()), req.viewer)
    return responses.update_card(card, notification) if notification else responses.push_card(card)


@action("open_company")
@with_company()
def open_company(req: Request, company: Company) -> dict:
    return show_company(req, company)


@action("company_form")
@with_company()
def open_company_form(req: Request, company: Company) -> dict:
    return responses.push_card(company_form(company, req.viewer))


@action("edit_company")
@with_company(update=True)
def edit_company(req: Request, company: Company) -> dict:
    """The company's name and custom fields; a wrong type answers the form again and writes nothing."""
    name = " ".join(text(req, "name").split())
    typed: dict[str, str] = {"name": name}
    try:
        rules.check_company_name(name)
        custom = typed_custom_fields(req, "company", company.custom, typed)
    except Invalid as exc:
        return invalid(company_form(company, req.viewer, error=str(exc), values=typed), str(exc))
    company.name, company.custom = name, custom
    req.repo.save_company(company)
    return show_company(req, company, "Saved")
