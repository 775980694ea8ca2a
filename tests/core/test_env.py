import pytest
from django.core.exceptions import ImproperlyConfigured

from zalohub.env import envbool, envchoice, envfloat, envint, envlist


def test_it_reads_booleans_and_refuses_nonsense(monkeypatch):
    monkeypatch.setenv("ZH_FLAG", "yes")
    assert envbool("ZH_FLAG") is True
    monkeypatch.setenv("ZH_FLAG", "0")
    assert envbool("ZH_FLAG", True) is False
    monkeypatch.setenv("ZH_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="ZH_FLAG"):
        envbool("ZH_FLAG")


def test_it_reads_integers_with_bounds(monkeypatch):
    assert envint("ZH_MISSING", 7) == 7
    monkeypatch.setenv("ZH_N", "12")
    assert envint("ZH_N", 1, minimum=10) == 12
    monkeypatch.setenv("ZH_N", "3")
    with pytest.raises(ImproperlyConfigured, match="at least 10"):
        envint("ZH_N", 1, minimum=10)
    monkeypatch.setenv("ZH_N", "twelve")
    with pytest.raises(ImproperlyConfigured, match="not an integer"):
        envint("ZH_N", 1)


def test_it_reads_floats_within_both_bounds(monkeypatch):
    assert envfloat("ZH_MISSING", 0.5) == 0.5
    monkeypatch.setenv("ZH_F", "0.0003")
    assert envfloat("ZH_F", 0.0, minimum=0.0, maximum=0.05) == 0.0003
    monkeypatch.setenv("ZH_F", "2")
    with pytest.raises(ImproperlyConfigured, match=r"at most 0\.05"):
        envfloat("ZH_F", 0.0, minimum=0.0, maximum=0.05)
    monkeypatch.setenv("ZH_F", "-1")
    with pytest.raises(ImproperlyConfigured, match=r"at least 0\.0"):
        envfloat("ZH_F", 0.0, minimum=0.0, maximum=0.05)


def test_it_reads_lists_and_choices(monkeypatch):
    monkeypatch.setenv("ZH_LIST", " a, b ,,c")
    assert envlist("ZH_LIST") == ["a", "b", "c"]
    monkeypatch.setenv("ZH_MODE", "LIVE")
    assert envchoice("ZH_MODE", "sandbox", {"sandbox", "live"}) == "live"
    monkeypatch.setenv("ZH_MODE", "prod")
    with pytest.raises(ImproperlyConfigured, match="must be one of"):
        envchoice("ZH_MODE", "sandbox", {"sandbox", "live"})
