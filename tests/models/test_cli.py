"""`python -m models`: the import report on stdout, errors that write nothing, exports to a file."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from models.__main__ import EXIT_FAILED, EXIT_OK, main
from models.repository import Repository

ROOT = Path(__file__).resolve().parents[2]
TENANT = "cli.example"


@pytest.fixture
def env(firestore_emulator, project_id) -> dict[str, str]:
    return {"GOOGLE_CLOUD_PROJECT": project_id, "FIRESTORE_EMULATOR_HOST": firestore_emulator.host}


@pytest.fixture
def tenant_repo(firestore_client) -> Repository:
    return Repository(firestore_client, TENANT)


def write(path: Path, text: str, encoding: str = "utf-8-sig") -> Path:
    path.write_text(text, encoding=encoding)
    return path


def test_import_prints_a_report_that_accounts_for_every_row_and_writes_a_csv_report(tmp_path, env, tenant_repo,
                                                                                    capsys):
    source = write(tmp_path / "contacts.csv", "Email,First Name,Colour,Owner Name\n"
                                              "jane@acme.com,Jane,blue,Sam\n\nbad-email,Bob,red,Sam\n"
                                              "JANE@acme.com,,green,Sam\n")
    report_path = tmp_path / "report.csv"
    status = main(["import", str(source), "--tenant", TENANT, "--map", "Owner Name=", "--owner", "rep@cli.example",
                   "--report", str(report_path)], env=env)
    out = capsys.readouterr().out
    assert status == EXIT_OK
    assert "rows: 4  imported: 1 (created 1, updated 0, unchanged 0)  merged: 1  rejected: 1  blank: 1" in out
    assert "line 4: rejected: invalid email 'bad-email'" in out
    assert "ignored columns: Colour, Owner Name" in out
    rows = list(csv.DictReader(report_path.open(encoding="utf-8")))
    assert [(r["line"], r["outcome"]) for r in rows] == [("2", "created"), ("3", "blank"), ("4", "rejected"),
                                                         ("5", "merged")]
    assert tenant_repo.find_contact_by_email("jane@acme.com").owner == "rep@cli.example"


def test_a_dry_run_writes_nothing(tmp_path, env, tenant_repo, capsys):
    source = write(tmp_path / "contacts.csv", "Email\njane@acme.com\n")
    assert main(["import", str(source), "--tenant", TENANT, "--dry-run"], env=env) == EXIT_OK
    assert "[dry run: nothing was written]" in capsys.readouterr().out
    assert tenant_repo.find_contact_by_email("jane@acme.com") is None


@pytest.mark.parametrize(("args", "message"), [
    (["--map", "Nope=title"], "does not have: 'Nope'"),
    (["--owner", "Sam"], "--owner must be an email"),
    (["--region", "Narnia"], "--region must be a two-letter country code"),
])
def test_bad_options_say_what_is_wrong_and_write_nothing(tmp_path, env, tenant_repo, capsys, args, message):
    source = write(tmp_path / "contacts.csv", "Email\njane@acme.com\n")
    assert main(["import", str(source), "--tenant", TENANT, *args], env=env) == EXIT_FAILED
    assert message in capsys.readouterr().err
    assert tenant_repo.find_contact_by_email("jane@acme.com") is None


def test_a_missing_file_or_configuration_is_a_clear_error(tmp_path, env, capsys):
    assert main(["import", str(tmp_path / "nope.csv"), "--tenant", TENANT], env=env) == EXIT_FAILED
    assert "cannot read" in capsys.readouterr().err
    assert main(["export", "contacts", "--tenant", TENANT], env={}) == EXIT_FAILED
    assert "GOOGLE_CLOUD_PROJECT is required" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["export", "contacts"], env=env)  # --tenant is required


def test_export_through_the_module_entry_point(tmp_path, env, capsys):
    source = write(tmp_path / "contacts.csv", "Email;First Name;Company Name\njose@acme.es;José;Acme\n",
                   encoding="utf-8")
    assert main(["import", str(source), "--tenant", TENANT], env=env) == EXIT_OK
    output = tmp_path / "out.csv"
    done = subprocess.run([sys.executable, "-m", "models", "export", "contacts", "--tenant", TENANT, "-o",
                           str(output)], cwd=ROOT, env={**env, "PATH": "/usr/bin:/bin"}, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "exported 1 contacts" in done.stderr
    (row,) = csv.DictReader(output.open(encoding="utf-8-sig"))
    assert (row["Emails"], row["First Name"], row["Company Name"]) == ("jose@acme.es", "José", "Acme")
    companies = subprocess.run([sys.executable, "-m", "models", "export", "companies", "--tenant", TENANT], cwd=ROOT,
                               env={**env, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=60)
    assert companies.stdout.splitlines()[1].startswith("acme.es,Acme,")
