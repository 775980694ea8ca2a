"""Who may see what: one row per URL pattern, the spec that test_url_access checks.

Columns (PERSONAS): a Zalo Admin; a Zalo Events grantee (auditor); a CS agent of the
Support OA only; a CS agent of both OAs; a staff user with no role (outsider); anonymous.
Answers: an HTTP status, ``L`` (redirected to the admin login) or ``R`` (redirected
elsewhere: a form's success, the admin's index). Arguments name objects of the world
(tests/core/url_world.py): ``*_own`` rows belong to the Support OA, ``*_other`` rows to
the Sales OA, which the one-OA agent is not a member of: those answer 404 (not 403), so
a guessed id confirms nothing, in the inbox as in the admin.
"""

from dataclasses import dataclass, field
from typing import Any

PERSONAS = ("admin", "auditor", "agent", "agent2", "outsider", "anon")


@dataclass(frozen=True)
class Case:
    expect: tuple[str, ...]
    args: tuple[Any, ...] = ()
    method: str = "GET"
    query: str = ""
    data: tuple[tuple[str, str], ...] = field(default=())


def C(expect: str, *args: Any, method: str = "GET", query: str = "", **data: str) -> Case:
    return Case(tuple(expect.split()), args, method, query, tuple(data.items()))


def POST(expect: str, *args: Any, **data: str) -> Case:
    return C(expect, *args, method="POST", **data)


#                          admin aud agent agent2 outsider anon
STAFF = "200 200 200 200 200 L"
ADMIN_ONLY = "200 403 403 403 403 L"
NOBODY = "403 403 403 403 403 L"
TO_CHANGE = "R R R R R L"  # admin/<model>/<id>/ redirects to the change form
EVENTS = "403 200 403 403 403 L"  # the Zalo Events grant, not the admin role
API = "401 401 401 401 401 401"  # the API: a key or nothing

TABLE: dict[str, list[Case]] = {
    # Public endpoints: Zalo's webhook (GET is the browser check), the OAuth callback.
    "events:webhook": [C("200 200 200 200 200 200", "2740017350155010001")],
    "accounts:oauth_callback": [C("400 400 400 400 400 400", "2740017350155010001")],
    "": [C("R R R R R R")],
    "favicon": [C("200 200 200 200 200 200")],
    # Probes: anyone. Metrics: the test client calls from loopback, the default allow-list.
    "healthz": [C("200 200 200 200 200 200")],
    "readyz": [C("200 200 200 200 200 200")],
    "metrics": [C("200 200 200 200 200 200")],
    "set_language": [POST("R R R R R R", language="vi", next="/admin/")],
    # The admin site itself.
    "admin:index": [C(STAFF)],
    "admin:login": [C("R R R R R 200")],
    "admin:logout": [POST("200 200 200 200 200 R")],
    "admin:password_change": [C(STAFF)],
    "admin:password_change_done": [C(STAFF)],
    "admin:autocomplete": [
        C(NOBODY, query="app_label=inbox&model_name=oamembership&field_name=user&term=a")
    ],
    "admin:jsi18n": [C(STAFF)],
    "admin:view_on_site": [C("404 404 404 404 404 L", 1, 1)],
    "admin:app_list": [
        C("200 404 200 200 404 L", "inbox"),
        C("200 404 200 200 404 L", "partners"),
        C("404 200 404 404 404 L", "events"),
        C("200 404 404 404 404 L", "accounts"),
    ],
    "admin/(?P<url>.*)$": [C("404 404 404 404 404 L", "nope/")],
    # Users and groups: a superuser's, not a Zalo Admin's.
    "admin:auth_group_changelist": [C(NOBODY)],
    "admin:auth_group_add": [C(NOBODY)],
    "admin:auth_group_history": [C(NOBODY, "group")],
    "admin:auth_group_delete": [C(NOBODY, "group")],
    "admin:auth_group_change": [C(NOBODY, "group")],
    "admin/auth/group/<path:object_id>/": [C(TO_CHANGE, "group")],
    "admin:auth_user_password_change": [C(NOBODY, "admin")],
    "admin:auth_user_changelist": [C(NOBODY)],
    "admin:auth_user_add": [C(NOBODY)],
    "admin:auth_user_history": [C(NOBODY, "admin")],
    "admin:auth_user_delete": [C(NOBODY, "admin")],
    "admin:auth_user_change": [C(NOBODY, "admin")],
    "admin/auth/user/<path:object_id>/": [C(TO_CHANGE, "admin")],
    # The task queue's rows.
    "admin:django_tasks_database_dbtaskresult_changelist": [C(NOBODY)],
    "admin:django_tasks_database_dbtaskresult_add": [C(NOBODY)],
    "admin:django_tasks_database_dbtaskresult_history": [C(NOBODY, "task")],
    "admin:django_tasks_database_dbtaskresult_delete": [C(NOBODY, "task")],
    "admin:django_tasks_database_dbtaskresult_change": [C(NOBODY, "task")],
    "admin/django_tasks_database/dbtaskresult/<path:object_id>/": [C(TO_CHANGE, "task")],
    # Apps and OAs: secrets and tokens, the Zalo Admin's only.
    "admin:accounts_zaloapp_changelist": [C(ADMIN_ONLY)],
    "admin:accounts_zaloapp_add": [C(ADMIN_ONLY)],
    "admin:accounts_zaloapp_history": [C(ADMIN_ONLY, "app_own")],
    "admin:accounts_zaloapp_delete": [C(ADMIN_ONLY, "app_own")],
    "admin:accounts_zaloapp_change": [C(ADMIN_ONLY, "app_own")],
    "admin/accounts/zaloapp/<path:object_id>/": [C(TO_CHANGE, "app_own")],
    "admin:accounts_officialaccount_authorize": [POST("R 403 403 403 403 L", "oa_own")],
    "admin:accounts_officialaccount_clear_session": [POST("R 403 403 403 403 L", "oa_own")],
    "admin:accounts_officialaccount_sync_profile": [POST("R 403 403 403 403 L", "oa_own")],
    "admin:accounts_officialaccount_changelist": [C(ADMIN_ONLY)],
    "admin:accounts_officialaccount_add": [C(ADMIN_ONLY)],
    "admin:accounts_officialaccount_history": [C(ADMIN_ONLY, "oa_own")],
    "admin:accounts_officialaccount_delete": [C(ADMIN_ONLY, "oa_own")],
    "admin:accounts_officialaccount_change": [C(ADMIN_ONLY, "oa_own")],
    "admin/accounts/officialaccount/<path:object_id>/": [C(TO_CHANGE, "oa_own")],
    # API logs: the admin's, and the Zalo Events grantee reads them (redacted).
    # Integration API keys: a Zalo Admin's. The API itself answers keys only: a session,
    # however strong, gets 401 (its schema, docs and health are public).
    "admin:api_apikey_changelist": [C(ADMIN_ONLY)],
    "admin:api_apikey_add": [C(ADMIN_ONLY)],
    "admin:api_apikey_history": [C(ADMIN_ONLY, "apikey")],
    "admin:api_apikey_delete": [C(ADMIN_ONLY, "apikey")],
    "admin:api_apikey_change": [C(ADMIN_ONLY, "apikey")],
    "admin/api/apikey/<path:object_id>/": [C(TO_CHANGE, "apikey")],
    "api-v1:api-root": [C("404 404 404 404 404 404")],
    "api-v1:openapi-json": [C("200 200 200 200 200 200")],
    "api-v1:openapi-view": [C("200 200 200 200 200 200")],
    "api-v1:health": [C("200 200 200 200 200 200")],
    "api-v1:message_create": [POST(API)],
    "api-v1:template_send_create": [POST(API)],
    "api-v1:event_detail": [C(API, 1)],
    "api-v1:message_detail": [C(API, 1)],
    "api-v1:conversation_list": [C(API)],
    "api-v1:conversation_detail": [C(API, 1)],
    "api-v1:conversation_messages": [C(API, 1)],
    "api-v1:conversation_read": [POST(API, 1)],
    "api-v1:conversation_assign_to": [POST(API, 1)],
    "api-v1:partner_list": [C(API)],
    "api-v1:partner_detail": [C(API, 1)],
    "api-v1:partner_links": [C(API, 1)],
    "api-v1:partner_decisions": [C(API, 1)],
    "api-v1:partner_upsert": [POST(API)],
    "api-v1:oa_list": [C(API)],
    "api-v1:oa_detail": [C(API, 1)],
    "api-v1:template_list": [C(API, 1)],
    "api-v1:quota": [C(API, 1)],
    # One route, one URL name per operation: GET or POST reaches each one's route.
    "api-v1:webhook_subscription_list": [C(API)],
    "api-v1:webhook_subscription_create": [POST(API)],
    "api-v1:webhook_subscription_detail": [C(API, 1)],
    "api-v1:webhook_subscription_update": [C(API, 1)],
    "api-v1:webhook_subscription_delete": [C(API, 1)],
    "admin:apilog_apilog_changelist": [C("200 200 403 403 403 L")],
    "admin:apilog_apilog_add": [C(NOBODY)],
    "admin:apilog_apilog_history": [C("200 200 403 403 403 L", "apilog_own")],
    "admin:apilog_apilog_delete": [C(ADMIN_ONLY, "apilog_own")],
    "admin:apilog_apilog_change": [C("200 200 403 403 403 L", "apilog_own")],
    "admin/apilog/apilog/<path:object_id>/": [C(TO_CHANGE, "apilog_own")],
    # Partners: an agent reads and edits the partners of its OAs.
    "admin:partners_partner_changelist": [C("200 403 200 200 403 L")],
    "admin:partners_partner_add": [C(ADMIN_ONLY)],
    "admin:partners_partner_history": [
        C("200 404 200 200 404 L", "partner_own"),
        C("200 404 404 200 404 L", "partner_other"),
    ],
    "admin:partners_partner_delete": [
        C("200 404 403 403 404 L", "partner_own"),
        C("200 404 404 403 404 L", "partner_other"),
    ],
    "admin:partners_partner_change": [
        C("200 404 200 200 404 L", "partner_own"),
        C("200 404 404 200 404 L", "partner_other"),
    ],
    "admin/partners/partner/<path:object_id>/": [C(TO_CHANGE, "partner_own")],
    "admin:partners_link_audit": [
        C("200 403 200 200 403 L", "oa_own"),
        C("200 403 404 200 403 L", "oa_other"),
    ],
    "admin:partners_link_sync": [
        POST("R 403 403 403 403 L", "link_own"),
        POST("R 403 403 403 403 L", "link_other"),
    ],
    "admin:partners_link_verify": [
        C("200 403 403 403 403 L", "link_own"),
        C("200 403 403 403 403 L", "link_other"),
    ],
    # Zalo tags: a link's tags change (through Zalo) and an OA's tags are read by admins.
    "admin:partners_link_tags": [
        POST("R 403 403 403 403 L", "link_own"),
        POST("R 403 403 403 403 L", "link_other"),
        C("405 405 405 405 405 L", "link_own"),
    ],
    "admin:partners_oa_tags_sync": [
        POST("R 403 403 403 403 L", "oa_own"),
        POST("R 403 403 403 403 L", "oa_other"),
    ],
    "admin:partners_zalopartnerlink_changelist": [C("200 403 200 200 403 L")],
    # Load Zalo history (the OA form's button): Zalo Admins.
    "admin:events_history": [C(ADMIN_ONLY, "oa_own"), C(ADMIN_ONLY, "oa_other")],
    # Data-removal requests: Zalo Admins only; nobody adds or deletes one (the audit).
    "admin:privacy_removal_confirm": [C(ADMIN_ONLY, "removal")],
    "admin:privacy_dataremovalrequest_changelist": [C(ADMIN_ONLY)],
    "admin:privacy_dataremovalrequest_add": [C(NOBODY)],
    "admin:privacy_dataremovalrequest_history": [C(ADMIN_ONLY, "removal")],
    "admin:privacy_dataremovalrequest_delete": [C(NOBODY, "removal")],
    "admin:privacy_dataremovalrequest_change": [C(ADMIN_ONLY, "removal")],
    "admin/privacy/dataremovalrequest/<path:object_id>/": [C(TO_CHANGE, "removal")],
    "admin:partners_zalopartnerlink_add": [C(NOBODY)],
    "admin:partners_zalopartnerlink_history": [
        C("200 404 200 200 404 L", "link_own"),
        C("200 404 404 200 404 L", "link_other"),
    ],
    "admin:partners_zalopartnerlink_delete": [
        C("200 404 403 403 404 L", "link_own"),
        C("200 404 404 403 404 L", "link_other"),
    ],
    "admin:partners_zalopartnerlink_change": [
        C("200 404 200 200 404 L", "link_own"),
        C("200 404 404 200 404 L", "link_other"),
    ],
    "admin/partners/zalopartnerlink/<path:object_id>/": [C(TO_CHANGE, "link_own")],
    "admin:partners_shadowcontact_changelist": [C(ADMIN_ONLY)],
    "admin:partners_shadowcontact_add": [C(NOBODY)],
    "admin:partners_shadowcontact_history": [
        C("200 404 403 403 404 L", "partner_own"),
        C("200 404 404 403 404 L", "partner_other"),
    ],
    "admin:partners_shadowcontact_delete": [
        C("200 404 403 403 404 L", "partner_own"),
        C("200 404 404 403 404 L", "partner_other"),
    ],
    "admin:partners_shadowcontact_change": [
        C("200 404 403 403 404 L", "partner_own"),
        C("200 404 404 403 404 L", "partner_other"),
    ],
    "admin/partners/shadowcontact/<path:object_id>/": [C(TO_CHANGE, "partner_own")],
    # Duplicates and merges: the Zalo Admin's.
    "admin:partners_suggestion_scan": [POST("R 403 403 403 403 L")],
    "admin:partners_suggestion_merge": [C(ADMIN_ONLY, "suggestion")],
    "admin:partners_duplicatesuggestion_changelist": [C(ADMIN_ONLY)],
    "admin:partners_duplicatesuggestion_add": [C(NOBODY)],
    "admin:partners_duplicatesuggestion_history": [C(ADMIN_ONLY, "suggestion")],
    "admin:partners_duplicatesuggestion_delete": [C(ADMIN_ONLY, "suggestion")],
    "admin:partners_duplicatesuggestion_change": [C(ADMIN_ONLY, "suggestion")],
    "admin/partners/duplicatesuggestion/<path:object_id>/": [C(TO_CHANGE, "suggestion")],
    "admin:partners_merge_undo": [POST("R 403 403 403 403 L", "journal")],
    "admin:partners_mergejournal_changelist": [C(ADMIN_ONLY)],
    "admin:partners_mergejournal_add": [C(NOBODY)],
    "admin:partners_mergejournal_history": [C(ADMIN_ONLY, "journal")],
    "admin:partners_mergejournal_delete": [C(NOBODY, "journal")],
    "admin:partners_mergejournal_change": [C(ADMIN_ONLY, "journal")],
    "admin/partners/mergejournal/<path:object_id>/": [C(TO_CHANGE, "journal")],
    # Zalo Events: granted separately, even to admins.
    "admin:events_zaloevent_button": [POST("403 R 403 403 403 L", "event_own", "retry_processing")],
    "admin:events_zaloevent_changelist": [C(EVENTS)],
    "admin:events_zaloevent_add": [C(NOBODY)],
    "admin:events_zaloevent_history": [C(EVENTS, "event_own")],
    "admin:events_zaloevent_delete": [C(NOBODY, "event_own")],
    "admin:events_zaloevent_change": [C(EVENTS, "event_own")],
    "admin/events/zaloevent/<path:object_id>/": [C(TO_CHANGE, "event_own")],
    "admin:events_rejectedrequest_changelist": [C(EVENTS)],
    "admin:events_rejectedrequest_add": [C(NOBODY)],
    "admin:events_rejectedrequest_history": [C(EVENTS, "rejected")],
    # The Zalo Events grant includes deleting rejected requests (events' own roles).
    "admin:events_rejectedrequest_delete": [C(EVENTS, "rejected")],
    "admin:events_rejectedrequest_change": [C(EVENTS, "rejected")],
    "admin/events/rejectedrequest/<path:object_id>/": [C(TO_CHANGE, "rejected")],
    # ZBS templates: an agent views and sends its OAs' approved templates.
    "admin:zbs_template_lint_check": [POST(ADMIN_ONLY, name="x", body="y")],
    "admin:zbs_template_submit": [
        POST("R 403 403 403 403 L", "template_own"),
        POST("R 403 403 403 403 L", "template_other"),
    ],
    "admin:zbs_template_reset": [
        POST("R 403 403 403 403 L", "template_own"),
        POST("R 403 403 403 403 L", "template_other"),
    ],
    "admin:zbs_template_lint": [
        C("R 403 R R 403 L", "template_own"),
        C("R 403 404 R 403 L", "template_other"),
    ],
    "admin:zbs_template_send": [
        C("200 403 200 200 403 L", "template_own"),
        C("200 403 404 200 403 L", "template_other"),
    ],
    "admin:zbs_template_bulk": [
        C("200 403 200 200 403 L", "template_own"),
        C("200 403 404 200 403 L", "template_other"),
    ],
    "admin:zbs_template_bulk_progress": [
        C("200 403 200 200 403 L", "bulk_own"),
        C("200 403 404 200 403 L", "bulk_other"),
    ],
    "admin:zbs_template_sync": [
        POST("R 403 403 403 403 L", "oa_own"),
        POST("R 403 403 403 403 L", "oa_other"),
    ],
    "admin:zbs_template_starters": [
        C("200 403 403 403 403 L", "oa_own"),
        C("200 403 403 403 403 L", "oa_other"),
    ],
    "admin:zbs_template_dashboard": [
        C("200 403 200 200 403 L", "oa_own"),
        C("200 403 404 200 403 L", "oa_other"),
    ],
    "admin:zbs_template_changelist": [C("200 403 200 200 403 L")],
    "admin:zbs_template_add": [C(ADMIN_ONLY)],
    "admin:zbs_template_history": [
        C("200 404 200 200 404 L", "template_own"),
        C("200 404 404 200 404 L", "template_other"),
    ],
    "admin:zbs_template_delete": [
        C("200 404 403 403 404 L", "template_own"),
        C("200 404 404 403 404 L", "template_other"),
    ],
    "admin:zbs_template_change": [
        C("200 404 200 200 404 L", "template_own"),
        C("200 404 404 200 404 L", "template_other"),
    ],
    "admin/zbs/template/<path:object_id>/": [C(TO_CHANGE, "template_own")],
    "admin:zbs_zbssettings_changelist": [C(ADMIN_ONLY)],
    "admin:zbs_zbssettings_add": [C(ADMIN_ONLY)],
    "admin:zbs_zbssettings_history": [
        C("200 404 403 403 404 L", "settings_own"),
        C("200 404 404 403 404 L", "settings_other"),
    ],
    "admin:zbs_zbssettings_delete": [
        C("200 404 403 403 404 L", "settings_own"),
        C("200 404 404 403 404 L", "settings_other"),
    ],
    "admin:zbs_zbssettings_change": [
        C("200 404 403 403 404 L", "settings_own"),
        C("200 404 404 403 404 L", "settings_other"),
    ],
    "admin/zbs/zbssettings/<path:object_id>/": [C(TO_CHANGE, "settings_own")],
    "admin:zbs_bulksend_changelist": [C(ADMIN_ONLY)],
    "admin:zbs_bulksend_add": [C(NOBODY)],
    "admin:zbs_bulksend_history": [
        C("200 404 403 403 404 L", "bulk_own"),
        C("200 404 404 403 404 L", "bulk_other"),
    ],
    "admin:zbs_bulksend_delete": [
        C("200 404 403 403 404 L", "bulk_own"),
        C("200 404 404 403 404 L", "bulk_other"),
    ],
    "admin:zbs_bulksend_change": [
        C("200 404 403 403 404 L", "bulk_own"),
        C("200 404 404 403 404 L", "bulk_other"),
    ],
    "admin/zbs/bulksend/<path:object_id>/": [C(TO_CHANGE, "bulk_own")],
    # Memberships: managed by Zalo Admins only (issue 13 §1).
    "admin:inbox_oamembership_changelist": [C(ADMIN_ONLY)],
    "admin:inbox_oamembership_add": [
        C(ADMIN_ONLY),
        POST("R 403 403 403 403 L", user="agent", oa="oa_other"),
    ],
    "admin:inbox_oamembership_history": [C(ADMIN_ONLY, "membership_own")],
    "admin:inbox_oamembership_delete": [C(ADMIN_ONLY, "membership_own")],
    "admin:inbox_oamembership_change": [
        C(ADMIN_ONLY, "membership_own"),
        C(ADMIN_ONLY, "membership_other"),
    ],
    "admin/inbox/oamembership/<path:object_id>/": [C(TO_CHANGE, "membership_own")],
    # Conversations in the admin: read-only for an agent, its OAs only.
    "admin:inbox_conversation_changelist": [C("200 403 200 200 403 L")],
    "admin:inbox_conversation_add": [C(NOBODY)],
    "admin:inbox_conversation_history": [
        C("200 404 200 200 404 L", "conversation_own"),
        C("200 404 404 200 404 L", "conversation_other"),
    ],
    "admin:inbox_conversation_delete": [
        C("200 404 403 403 404 L", "conversation_own"),
        C("200 404 404 403 404 L", "conversation_other"),
    ],
    "admin:inbox_conversation_change": [
        C("200 404 200 200 404 L", "conversation_own"),
        C("200 404 404 200 404 L", "conversation_other"),
        POST("R 404 403 403 404 L", "conversation_own", assigned_to="agent"),
        POST("R 404 404 403 404 L", "conversation_other", assigned_to="agent"),
    ],
    "admin/inbox/conversation/<path:object_id>/": [C(TO_CHANGE, "conversation_own")],
    # Health, incidents and escalation bundles: the Zalo Admin's.
    "admin:diagnostics_health_refresh": [POST("R 403 403 403 403 L")],
    "admin:diagnostics_health_selftest": [POST("R 403 403 403 403 L", "oa_own")],
    "admin:diagnostics_escalation": [
        C(ADMIN_ONLY, "oa", "oa_own"),
        C(ADMIN_ONLY, "event", "event_own"),
        C(ADMIN_ONLY, "apilog", "apilog_own"),
    ],
    "admin:diagnostics_healthsnapshot_changelist": [C(ADMIN_ONLY)],
    "admin:diagnostics_healthsnapshot_add": [C(NOBODY)],
    "admin:diagnostics_healthsnapshot_history": [C(ADMIN_ONLY, "health_own")],
    "admin:diagnostics_healthsnapshot_delete": [C(NOBODY, "health_own")],
    "admin:diagnostics_healthsnapshot_change": [C(ADMIN_ONLY, "health_own")],
    "admin/diagnostics/healthsnapshot/<path:object_id>/": [C(TO_CHANGE, "health_own")],
    "admin:diagnostics_incident_changelist": [C(ADMIN_ONLY)],
    "admin:diagnostics_incident_add": [C(NOBODY)],
    "admin:diagnostics_incident_history": [C(ADMIN_ONLY, "incident_own")],
    "admin:diagnostics_incident_delete": [C(ADMIN_ONLY, "incident_own")],
    "admin:diagnostics_incident_change": [C(ADMIN_ONLY, "incident_own")],
    "admin/diagnostics/incident/<path:object_id>/": [C(TO_CHANGE, "incident_own")],
    # Outbound webhooks: the Zalo Admin's subscriptions, their deliveries and buttons.
    "admin:webhooks_send_test": [POST("R 403 403 403 403 L", "subscription")],
    "admin:webhooks_rotate_secret": [POST("R 403 403 403 403 L", "subscription")],
    "admin:webhooks_replay_range": [
        POST(
            "R 403 403 403 403 L",
            "subscription",
            since="2026-01-01T00:00",
            until="2036-01-01T00:00",
        )
    ],
    "admin:webhooks_subscription_changelist": [C(ADMIN_ONLY)],
    "admin:webhooks_subscription_add": [C(ADMIN_ONLY)],
    "admin:webhooks_subscription_history": [C(ADMIN_ONLY, "subscription")],
    "admin:webhooks_subscription_delete": [C(ADMIN_ONLY, "subscription")],
    "admin:webhooks_subscription_change": [C(ADMIN_ONLY, "subscription")],
    "admin/webhooks/subscription/<path:object_id>/": [C(TO_CHANGE, "subscription")],
    "admin:webhooks_delivery_replay": [POST("R 403 403 403 403 L", "delivery")],
    "admin:webhooks_delivery_changelist": [C(ADMIN_ONLY)],
    "admin:webhooks_delivery_add": [C(NOBODY)],
    "admin:webhooks_delivery_history": [C(ADMIN_ONLY, "delivery")],
    "admin:webhooks_delivery_delete": [C(ADMIN_ONLY, "delivery")],
    "admin:webhooks_delivery_change": [C(ADMIN_ONLY, "delivery")],
    "admin/webhooks/delivery/<path:object_id>/": [C(TO_CHANGE, "delivery")],
    # The inbox: members of the OA (and Zalo Admins); another OA's conversation answers
    # 404 like a missing one; a user without the inbox role gets the inbox's 403 page.
    "inbox:index": [C("200 403 200 200 403 L")],
    "inbox:list": [C("200 403 200 200 403 L")],
    "inbox:events": [
        C("200 403 200 200 403 L"),
        C("200 403 404 200 403 L", query="c={conversation_other}"),
    ],
    "inbox:conversation": [
        C("200 403 200 200 403 L", "conversation_own"),
        C("200 403 404 200 403 L", "conversation_other"),
    ],
    "inbox:thread": [
        C("200 403 200 200 403 L", "conversation_own"),
        C("200 403 404 200 403 L", "conversation_other"),
    ],
    "inbox:reply": [
        POST("200 403 200 200 403 L", "conversation_own", text="Dạ vâng"),
        POST("200 403 404 200 403 L", "conversation_other", text="Dạ vâng"),
    ],
    "inbox:assign": [
        POST("200 403 200 200 403 L", "conversation_own", assignment="release"),
        POST("200 403 404 200 403 L", "conversation_other", assignment="release"),
    ],
    "inbox:sent_image": [
        C("200 403 200 200 403 L", "outbound_own"),
        C("200 403 404 200 403 L", "outbound_other"),
    ],
    "inbox:resend": [
        POST("400 403 400 400 403 L", "outbound_own"),
        POST("400 403 404 400 403 L", "outbound_other"),
    ],
    # The team's inbox (issue 19): status, notes and labels as the conversation's other
    # actions; resolving a selection and the away switch for any inbox user (another OA's
    # conversations are left out of the selection, not refused); the reports page.
    "inbox:status": [
        POST("200 403 200 200 403 L", "conversation_own", status="pending"),
        POST("200 403 404 200 403 L", "conversation_other", status="pending"),
    ],
    "inbox:note": [
        POST("200 403 200 200 403 L", "conversation_own", text="Ghi chú"),
        POST("200 403 404 200 403 L", "conversation_other", text="Ghi chú"),
    ],
    "inbox:labels": [
        POST("200 403 200 200 403 L", "conversation_own", label="label"),
        POST("200 403 404 200 403 L", "conversation_other", label="label"),
    ],
    "inbox:resolve_selected": [
        POST("200 403 200 200 403 L", c="conversation_own"),
        POST("200 403 200 200 403 L", c="conversation_other"),
    ],
    "inbox:away": [POST("200 403 200 200 403 L", away="0")],
    # The composer's one-step send of an offer once the free window has closed: with no
    # offer named it is refused (400) for those who may write in the conversation.
    "inbox:offer_send": [
        POST("400 403 400 400 403 L", "conversation_own"),
        POST("400 403 404 400 403 L", "conversation_other"),
    ],
    "inbox:reports": [C("200 403 200 200 403 L"), C("200 403 200 200 403 L", query="format=csv")],
    # The team's settings: Zalo Admins only.
    "admin:inbox_inboxpolicy_changelist": [C(ADMIN_ONLY)],
    "admin:inbox_inboxpolicy_add": [C(ADMIN_ONLY)],
    "admin:inbox_inboxpolicy_history": [C(ADMIN_ONLY, "policy")],
    "admin:inbox_inboxpolicy_delete": [C(ADMIN_ONLY, "policy")],
    "admin:inbox_inboxpolicy_change": [C(ADMIN_ONLY, "policy")],
    "admin/inbox/inboxpolicy/<path:object_id>/": [C(TO_CHANGE, "policy")],
    "admin:inbox_agent_changelist": [C(ADMIN_ONLY)],
    "admin:inbox_agent_add": [C(ADMIN_ONLY)],
    "admin:inbox_agent_history": [C(ADMIN_ONLY, "agent_row")],
    "admin:inbox_agent_delete": [C(ADMIN_ONLY, "agent_row")],
    "admin:inbox_agent_change": [C(ADMIN_ONLY, "agent_row")],
    "admin/inbox/agent/<path:object_id>/": [C(TO_CHANGE, "agent_row")],
    "admin:inbox_savedreply_changelist": [C(ADMIN_ONLY)],
    "admin:inbox_savedreply_add": [C(ADMIN_ONLY)],
    "admin:inbox_savedreply_history": [C(ADMIN_ONLY, "saved_reply")],
    "admin:inbox_savedreply_delete": [C(ADMIN_ONLY, "saved_reply")],
    "admin:inbox_savedreply_change": [C(ADMIN_ONLY, "saved_reply")],
    "admin/inbox/savedreply/<path:object_id>/": [C(TO_CHANGE, "saved_reply")],
    "admin:inbox_label_changelist": [C(ADMIN_ONLY)],
    "admin:inbox_label_add": [C(ADMIN_ONLY)],
    "admin:inbox_label_history": [C(ADMIN_ONLY, "label")],
    "admin:inbox_label_delete": [C(ADMIN_ONLY, "label")],
    "admin:inbox_label_change": [C(ADMIN_ONLY, "label")],
    "admin/inbox/label/<path:object_id>/": [C(TO_CHANGE, "label")],
}
