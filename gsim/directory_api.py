"""Admin SDK Directory: who is in the Workspace (``users.list``) and its domains (``domains.list``,
``domainAliases.list``), for an admin caller; shapes from the discovery document (Users, Domains2,
DomainAliases)."""

from __future__ import annotations

import base64
import datetime as dt

from . import errors
from .tokens import sub_for
from .world import User

USERS_LIST_DEFAULT = 100  # users.list maxResults default
USERS_LIST_MAX = 500  # users.list maxResults maximum


def not_authorized() -> errors.ApiError:
    return errors.ApiError(403, "Not Authorized to access this resource/api", "forbidden")


def render_user(user: User, customer_id: str) -> dict:
    created = user.creation_time.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {
        "kind": "admin#directory#user",
        "id": sub_for(user.primary_email),
        "etag": '"' + base64.urlsafe_b64encode(user.primary_email.encode()).decode().rstrip("=") + '"',
        "primaryEmail": user.primary_email,
        "name": {
            "givenName": user.given_name,
            "familyName": user.family_name,
            "fullName": f"{user.given_name} {user.family_name}",
        },
        "isAdmin": user.is_admin,
        "isDelegatedAdmin": False,
        "lastLoginTime": "1970-01-01T00:00:00.000Z",
        "creationTime": created,
        "agreedToTerms": True,
        "suspended": user.suspended,
        "archived": False,
        "changePasswordAtNextLogin": False,
        "ipWhitelisted": False,
        "emails": [{"address": user.primary_email, "primary": True}],
        "customerId": customer_id,
        "orgUnitPath": "/",
        "isMailboxSetup": True,
        "isEnrolledIn2Sv": True,
        "isEnforcedIn2Sv": False,
        "includeInGlobalAddressList": True,
        **({"organizations": [{"title": user.title, "primary": True}]} if user.title else {}),
    }


def list_users(call) -> dict:
    params, world = call.params, call.world
    caller = world.users.get((call.subject or "").lower())
    if caller is None or not caller.is_admin:
        raise not_authorized()
    customer, domain = params.str("customer"), params.str("domain")
    if not customer and not domain:
        raise errors.bad_request("Bad Request", reason="badRequest")
    if customer and customer not in ("my_customer", world.customer_id):
        raise not_authorized()
    if domain and domain.lower() not in (world.domain, *world.secondary_domains):
        raise not_authorized()
    max_results = params.int("maxResults", USERS_LIST_DEFAULT)
    if not 1 <= max_results <= USERS_LIST_MAX:
        raise errors.bad_request("Invalid Input: maxResults", reason="invalid")
    users = sorted(world.users.values(), key=lambda u: u.primary_email)
    if domain:
        users = [u for u in users if u.primary_email.lower().endswith("@" + domain.lower())]
    if params.str("sortOrder") == "DESCENDING":
        users.reverse()
    offset = 0
    token = params.str("pageToken")
    if token:
        try:
            offset = int(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().split(":")[1])
        except (ValueError, IndexError):
            raise errors.bad_request("Invalid Input: pageToken", reason="invalid") from None
    page = users[offset : offset + max_results]
    body = {
        "kind": "admin#directory#users",
        "etag": f'"{world.customer_id}/{len(users)}"',
        "users": [render_user(user, world.customer_id) for user in page],
    }
    if offset + max_results < len(users):
        body["nextPageToken"] = base64.urlsafe_b64encode(f"users:{offset + max_results}".encode()).decode()
    return body


def _admin_of_customer(call) -> None:
    caller = call.world.users.get((call.subject or "").lower())
    if caller is None or not caller.is_admin:
        raise not_authorized()
    if call.path.get("customer") not in ("my_customer", call.world.customer_id):
        raise not_authorized()


def _creation_ms(world) -> str:
    """Domains are as old as the seeded Workspace (epoch milliseconds, as a string: format int64)."""
    return str(int(dt.datetime(2020, 1, 6, tzinfo=dt.UTC).timestamp() * 1000))


def render_alias(world, alias: str, parent: str) -> dict:
    return {"kind": "admin#directory#domainAlias", "domainAliasName": alias, "parentDomainName": parent,
            "verified": True, "creationTime": _creation_ms(world), "etag": f'"{world.customer_id}/{alias}"'}


def list_domains(call) -> dict:
    _admin_of_customer(call)
    world = call.world
    domains = []
    for name in (world.domain, *world.secondary_domains):
        aliases = [render_alias(world, a, p) for a, p in sorted(world.domain_aliases.items()) if p == name]
        domains.append({"kind": "admin#directory#domain", "domainName": name, "isPrimary": name == world.domain,
                        "verified": True, "creationTime": _creation_ms(world), "domainAliases": aliases,
                        "etag": f'"{world.customer_id}/{name}"'})
    return {"kind": "admin#directory#domains", "etag": f'"{world.customer_id}/domains"', "domains": domains}


def list_domain_aliases(call) -> dict:
    _admin_of_customer(call)
    world = call.world
    parent = (call.params.str("parentDomainName") or "").lower()
    aliases = [render_alias(world, a, p) for a, p in sorted(world.domain_aliases.items()) if not parent or p == parent]
    return {"kind": "admin#directory#domainAliases", "etag": f'"{world.customer_id}/aliases"',
            "domainAliases": aliases}


HANDLERS = {"directory.users.list": list_users, "directory.domains.list": list_domains,
            "directory.domainAliases.list": list_domain_aliases}
