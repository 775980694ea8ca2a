"""Where the hub may deliver: http(s) only; in live mode no loopback, link-local or
private address unless an admin allows it for the subscription; the demo's (sandbox)
mode allows loopback."""

import pytest
from django.core.exceptions import ValidationError

from zalohub.webhooks.models import Delivery
from zalohub.webhooks.services import subscription_create, subscription_send_test
from zalohub.webhooks.urlcheck import check_url

REFUSED_LIVE = [
    "http://127.0.0.1:8080/hook",
    "http://localhost/hook",
    "http://[::1]/hook",
    "http://169.254.169.254/latest/meta-data/",  # a cloud's metadata service
    "http://10.0.0.5/hook",
    "https://192.168.1.20/hook",
    "http://172.16.0.1/hook",
    "http://[fd00::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://0.0.0.0/hook",
]


@pytest.mark.parametrize("url", REFUSED_LIVE)
def test_live_mode_refuses_private_addresses(settings, url):
    settings.ZALO_MODE = "live"
    with pytest.raises(ValidationError, match="private"):
        check_url(url)
    # It should take them when an admin allows private addresses.
    check_url(url, allow_private=True)


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "gopher://a/"])
def test_only_http_and_https(settings, url):
    settings.ZALO_MODE = "live"
    with pytest.raises(ValidationError, match="http"):
        check_url(url, allow_private=True)


def test_a_public_address_is_fine_in_live_mode(settings):
    settings.ZALO_MODE = "live"
    check_url("https://93.184.216.34/hooks/zalohub")


def test_the_sandbox_mode_allows_loopback_only(settings):
    settings.ZALO_MODE = "sandbox"
    check_url("http://127.0.0.1:8020/webhooks")
    check_url("http://localhost:8020/webhooks")
    with pytest.raises(ValidationError):
        check_url("http://10.0.0.5/hook")


@pytest.mark.django_db
def test_a_subscription_is_checked_when_saved_and_before_each_delivery(settings, receiver, deliver):
    settings.ZALO_MODE = "live"
    with pytest.raises(ValidationError):
        subscription_create(name="ERP", url=receiver.url)
    settings.ZALO_MODE = "sandbox"
    sub = subscription_create(name="ERP", url=receiver.url)
    subscription_send_test(subscription_id=sub.pk)
    settings.ZALO_MODE = "live"
    deliver()
    # It should not call the address, and keep the delivery for a later try.
    delivery = Delivery.objects.get()
    assert receiver.arrivals == []
    assert delivery.state == Delivery.State.PENDING and "private" in delivery.last_error


@pytest.mark.django_db
def test_the_admin_form_refuses_a_private_url_in_live_mode(settings, admin, client):
    settings.ZALO_MODE = "live"
    client.force_login(admin)
    answer = client.post(
        "/admin/webhooks/subscription/add/",
        {"name": "ERP", "url": "http://10.1.2.3/hooks", "rate_per_second": "50", "active": "on"},
    )
    assert answer.status_code == 200 and "private" in answer.content.decode()
    answer = client.post(
        "/admin/webhooks/subscription/add/",
        {
            "name": "ERP",
            "url": "http://10.1.2.3/hooks",
            "rate_per_second": "50",
            "active": "on",
            "allow_private_network": "on",
        },
    )
    assert answer.status_code == 302
