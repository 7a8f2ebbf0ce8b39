"""The README's main job, `flexledger demo`, end to end on the embedded chain (smaller fleet)."""

from pathlib import Path

from flexledger import demo
from flexledger.settings import Settings


def test_the_market_day_relieves_the_grid_and_its_audit_is_clean(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "demo", keystore_scrypt_n=1024)
    config = demo.DemoConfig(homes_per_fsp=20, report_path=tmp_path / "report.html")

    result = demo.run(settings, config)

    assert result.audit_clean, result.audit.mismatches
    assert result.trades > 0 and len(result.settlements) == result.trades
    assert all(row["status"] == "finalised" for row in result.settlements)
    assert result.violations_before > 0
    assert result.violations_after < result.violations_before
    weak = [row for row in result.settlements if float(row["penalty_eur"]) > 0]
    assert weak, "the under-delivering FSP pays penalties"
    page = result.report_path.read_text(encoding="utf-8")
    assert "data:image/png;base64," in page and "Settlements on chain" in page
