"""A tenant's own rule is told in the reader's language, as SigmaHQ's rules are (``finding.tenant_rule``,
``tenant_rule_routine``, ``tenant_rule_more``), never in English for want of a phrase; and every reason code
triage spells out has a phrase in every catalog."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

import flows.triage
from flows.models import Alert, Reason, Verdict, VerdictLabel
from flows.notify import LANGUAGES, render_report
from flows.notify._i18n import catalog
from flows.store import Store
from flows.tenants import Tenant, load_tenants
from flows.triage import triage_files

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
OWN = FIXTURES / "tenant-rules" / "acme"
FINEXPORT = FIXTURES / "tenant-rules" / "finexport-evtx.json"  # WS-FINANCE-07, 2026-11-15 08:41:12
RULE = "7d3c1a52-4f0e-4b8e-9a61-2c5e8f90b1d4"
TITLE = "Acme Finance Export Tool Run Outside Its Install Folder"
HOST = "WS-FINANCE-07[.]corp[.]acme[.]example"  # as every report shows a host name: defanged
SAID = {
    "en": f'Tenant acme\'s own rule "{TITLE}" (high; {RULE}; by Acme SOC) matched 1 event(s) on {HOST}, '
    "first at 2026-11-15 08:41:12 UTC: Image=C:\\Users\\jdoe\\Downloads\\finexport.exe",
    "ja": f"テナント acme 独自のルール「{TITLE}」（high、{RULE}、作成者 Acme SOC）が {HOST} 上の 1 件の"
    "イベントに一致しました（最初は 2026-11-15 08:41:12 UTC）："
    "Image=C:\\Users\\jdoe\\Downloads\\finexport.exe",
    "zh-TW": f"租戶 acme 自訂規則「{TITLE}」（high；{RULE}；作者 Acme SOC）比對到 {HOST} 上的 1 筆事件，"
    "最早於 2026-11-15 08:41:12 UTC：Image=C:\\Users\\jdoe\\Downloads\\finexport.exe",
}
ROUTINE = {
    "en": "It is the command that runs here routinely, so it does not weigh on the verdict.",
    "ja": "ここで日常的に実行されているコマンドのため、判定には影響しません。",
    "zh-TW": "這正是此處例行執行的命令，因此不影響判定。",
}
MORE = {
    "en": "2 more rules matched (SigmaHQ's and tenant acme's own): r-1, r-2.",
    "ja": "ほかに 2 件のルール（SigmaHQ およびテナント acme 独自のもの）が一致しました：r-1, r-2。",
    "zh-TW": "另有 2 條規則（SigmaHQ 與租戶 acme 自訂）比對成功：r-1, r-2。",
}


@pytest.fixture(scope="module")
def acme(tmp_path_factory: pytest.TempPathFactory) -> tuple[Tenant, Path, Reason]:
    """``garrison triage --tenant acme`` on a bland alert for the host whose export tool ran from
    Downloads, with acme's own rule folder in the tenants file: the rule's reason, as triage gives it."""
    where = tmp_path_factory.mktemp("acme")
    shutil.copytree(OWN, where / "acme-rules")
    (where / "tenants.yaml").write_text(
        "tenants:\n  - id: acme\n    name: Acme\n    rules: {folders: [acme-rules]}\n", encoding="utf-8"
    )
    [tenant] = load_tenants(where / "tenants.yaml")
    alert = where / "alert.json"
    alert.write_text(
        '{"class_uid": 2004, "severity_id": 3, "time": 1794732300000, '
        '"metadata": {"tenant_uid": "acme", "product": {"name": "Some EDR"}, "uid": "bland-1"}, '
        '"finding_info": {"uid": "bland-1", "title": "Suspicious activity on WS-FINANCE-07"}, '
        '"device": {"hostname": "WS-FINANCE-07"}}',
        encoding="utf-8",
    )
    result = triage_files(alert, events=[FINEXPORT], policy=tenant.policy)
    [reason] = [r for r in result.verdict.reasons if r.code == "tenant_rule"]
    assert reason.params["rule"] == RULE
    return tenant, alert, reason


def _report(store: Store, tenant: Tenant, alert: Path, reasons: list[Reason], language: str) -> str:
    document = Alert.model_validate_json(alert.read_text(encoding="utf-8"))
    incident_id = store.record_alert(document, document.model_dump(mode="json")).incident_id
    store.set_verdict(incident_id, Verdict(verdict=VerdictLabel.SUSPICIOUS, score=60, reasons=reasons))
    return render_report(incident_id, channel="text", language=language, store=store, tenant=tenant).body


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_tenant_rule_s_reason_is_told_in_every_language(
    store: Store, acme: tuple[Tenant, Path, Reason], language: str
) -> None:
    tenant, alert, reason = acme
    routine = reason.model_copy(update={"code": "tenant_rule_routine"})  # the same match, found routine
    more = Reason(
        question="Which attack techniques does it show?",
        finding="2 more Sigma (SigmaHQ, acme) rules matched: r-1, r-2",
        effect=0,
        code="tenant_rule_more",
        params={"count": 2, "rules": ["r-1", "r-2"], "tenant": "acme"},
    )

    body = _report(store, tenant, alert, [reason, routine, more], language)

    assert body.count(SAID[language]) == 2
    assert body.count(ROUTINE[language]) == 1
    assert MORE[language] in body
    if language != "en":  # no English sentence left behind
        assert "own rule" not in body and "more Sigma" not in body and "matched" not in body


def _spelled_out(node: ast.expr) -> set[str] | None:
    """The codes a ``code=`` expression can give when it is made of literals ("a" if x else "b", "a" + …)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        body, orelse = _spelled_out(node.body), _spelled_out(node.orelse)
        return body | orelse if body is not None and orelse is not None else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _spelled_out(node.left), _spelled_out(node.right)
        return {a + b for a in left for b in right} if left is not None and right is not None else None
    return None


def _triage_codes() -> set[str]:
    codes: set[str] = set()
    for path in sorted(Path(flows.triage.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                for keyword in node.keywords:
                    found = _spelled_out(keyword.value) if keyword.arg == "code" else None
                    codes |= found or set()
    return codes


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_reason_code_triage_spells_out_has_a_phrase(language: str) -> None:
    codes = _triage_codes()
    words = catalog(language)

    assert {"sigma", "sigma_routine", "sigma_more", "tenant_rule", "tenant_rule_routine"} <= codes
    assert "tenant_rule_more" in codes and len(codes) > 30
    assert sorted(code for code in codes if not words.has(f"finding.{code}")) == []
