"""The partners' periodic job: keep the duplicate queue current."""

from zalohub.core import periodic
from zalohub.partners.duplicates import ScanResult, duplicates_scan


@periodic.register("partners.duplicates_scan", every_seconds=3600)
def scan_duplicates() -> ScanResult:
    return duplicates_scan()
