"""A Zalo error the fault switch answers reads as the host of its route answers it:
-100 is "attachment_id was expired" on the OA host, "Unknown error" on the business
host (API.md §2.5, §4.5)."""

import pytest


@pytest.fixture
def token(wire) -> str:
    return wire.connect()["access_token"]


def test_a_zalo_error_on_each_host_has_that_hosts_message(wire, sandbox, token):
    sandbox.add_fault("oa.getoa", "zalo_error", code=-100, times=1)
    sandbox.add_fault("zns.quota", "zalo_error", code=-100, times=1)
    oa = wire.getoa(token).json()
    business = wire.http.get(
        f"{wire.base}/business/message/quota", headers={"access_token": token}
    ).json()
    # It should answer each host's own text for the same code.
    assert oa == {"error": -100, "message": "attachment_id was expired"}
    assert business == {"error": -100, "message": "Unknown error"}
    # A message the test gives is answered as given, on either host.
    sandbox.add_fault("zns.quota", "zalo_error", code=-100, message="Lỗi", times=1)
    again = wire.http.get(f"{wire.base}/business/message/quota", headers={"access_token": token})
    assert again.json() == {"error": -100, "message": "Lỗi"}
