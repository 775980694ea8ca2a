"""The sandbox's URL conf, served only by SandboxServer (never mounted in the hub's).

Paths mirror Zalo's hosts under a prefix per host (``/oauth``, ``/openapi``,
``/business``), which is how the hub's sandbox-mode base URLs are built. Route names
are the names faults and call counts use: ``<family>.<endpoint>``.
"""

from django.urls import path

from zalohub.sandbox import (
    avatars,
    control,
    control_events,
    control_scenarios,
    messaging,
    oauth,
    openapi,
    people,
    zns,
    zns_control,
    zns_quality,
)

urlpatterns = [
    # OAuth v4 host (oauth.zaloapp.com)
    path("oauth/v4/oa/permission", oauth.permission, name="oauth.permission"),
    path("oauth/v4/oa/access_token", oauth.access_token, name="oauth.access_token"),
    # OA API host (openapi.zalo.me)
    path("openapi/v2.0/oa/getoa", openapi.getoa, name="oa.getoa"),
    path("openapi/v3.0/oa/user/detail", openapi.user_detail, name="oa.user.detail"),
    path("openapi/v3.0/oa/user/getlist", openapi.user_list, name="oa.user.getlist"),
    path("openapi/v3.0/oa/message/cs", messaging.message_cs, name="oa.message.cs"),
    path("openapi/v2.0/oa/tag/gettagsofoa", people.tag_list, name="oa.tag.list"),
    path("openapi/v2.0/oa/tag/tagfollower", people.tag_follower, name="oa.tag.tagfollower"),
    path(
        "openapi/v2.0/oa/tag/rmfollowerfromtag",
        people.untag_follower,
        name="oa.tag.rmfollowerfromtag",
    ),
    path("openapi/v2.0/oa/tag/rmtag", people.remove_tag, name="oa.tag.rmtag"),
    path("openapi/v2.0/oa/listrecentchat", people.recent_chats, name="oa.listrecentchat"),
    path("openapi/v2.0/oa/conversation", people.conversation, name="oa.conversation"),
    path("openapi/v3.0/oa/quota/message", people.user_quota, name="oa.quota.message"),
    path(
        "openapi/v3.0/oa/message/transaction",
        messaging.message_transaction,
        name="oa.message.transaction",
    ),
    path(
        "openapi/v3.0/oa/message/promotion",
        messaging.message_promotion,
        name="oa.message.promotion",
    ),
    path("openapi/v2.0/oa/upload/image", messaging.upload_image, name="oa.upload.image"),
    path("openapi/v2.0/oa/upload/gif", messaging.upload_gif, name="oa.upload.gif"),
    path("openapi/v2.0/oa/upload/file", messaging.upload_file, name="oa.upload.file"),
    path(
        "openapi/v3.0/oa/message/template",
        zns.message_template_uid,
        name="oa.message.template",
    ),
    # Business host (business.openapi.zalo.me): ZBS templates, quota, sends by phone
    path("business/template/all", zns.template_all, name="zns.template.all"),
    path("business/template/info/v2", zns.template_info, name="zns.template.info"),
    path("business/template/create", zns.template_create, name="zns.template.create"),
    path("business/template/edit", zns.template_edit, name="zns.template.edit"),
    path("business/message/quota", zns.message_quota, name="zns.quota"),
    path("business/message/status", zns.message_status, name="zns.message.status"),
    path("business/quality", zns_quality.oa_quality, name="zns.quality"),
    path("business/message/template", zns.message_template, name="zns.message.template"),
    # The sandbox's own controls and assets
    path("_sandbox/state", control.state_view, name="sandbox.state"),
    path("_sandbox/reset", control.reset_view, name="sandbox.reset"),
    path("_sandbox/faults", control.faults_view, name="sandbox.faults"),
    path("_sandbox/clock", control.clock_view, name="sandbox.clock"),
    path("_sandbox/calls", control.calls_view, name="sandbox.calls"),
    path("_sandbox/tokens", control.tokens_view, name="sandbox.tokens"),
    path("_sandbox/webhooks", control_events.webhooks_view, name="sandbox.webhooks"),
    path(
        "_sandbox/webhooks/deliveries",
        control_events.deliveries_view,
        name="sandbox.webhooks.deliveries",
    ),
    path("_sandbox/webhooks/emit", control_events.emit_view, name="sandbox.webhooks.emit"),
    path(
        "_sandbox/customers/<slug:action>",
        control_events.customers_view,
        name="sandbox.customers",
    ),
    path("_sandbox/scenarios", control_scenarios.scenarios_view, name="sandbox.scenarios"),
    path(
        "_sandbox/scenarios/<slug:name>",
        control_scenarios.scenario_view,
        name="sandbox.scenario",
    ),
    path("_sandbox/messages", control_events.messages_view, name="sandbox.messages"),
    path("_sandbox/messages/receipts", control_events.receipts_view, name="sandbox.receipts"),
    path("_sandbox/media/<slug:name>.<slug:ext>", control_events.media, name="sandbox.media"),
    path("_sandbox/avatar/<slug:key>.svg", avatars.avatar, name="sandbox.avatar"),
    path("_sandbox/zns/<slug:action>", zns_control.zns_view, name="sandbox.zns"),
    path(
        "_sandbox/zns/preview/<slug:template_id>",
        zns_control.preview,
        name="sandbox.zns.preview",
    ),
]

handler404 = "zalohub.sandbox.responses.not_found"
handler500 = "zalohub.sandbox.responses.server_error"
