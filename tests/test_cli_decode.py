"""`skywarden decode` and `skywarden replay --format`, end to end as a user runs them."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from skywarden.core.records import decode_observation

DATA = Path(__file__).resolve().parent / "data"


def run(*args):
    return subprocess.run([sys.executable, "-m", "skywarden.cli.main", *args], capture_output=True, text=True, timeout=120)


def test_decode_writes_observation_jsonl_and_a_summary(tmp_path):
    out, summary = tmp_path / "obs.jsonl", tmp_path / "summary.json"
    proc = run("decode", "--format", "remoteid-pcap", str(DATA / "remoteid" / "odid_wifi_bcn_sample.pcap"),
               "-o", str(out), "--sensor", "rid-gate-3", "--summary-json", str(summary))
    assert proc.returncode == 0, proc.stderr
    observations = [decode_observation(line) for line in out.read_bytes().splitlines()]
    counts = json.loads(summary.read_text())
    assert len(observations) == counts["observations"] == 21  # one per beacon of the ODID Wi-Fi sample
    assert {o.sensor for o in observations} == {"rid-gate-3"} and {o.kind for o in observations} == {"remote_id"}
    assert counts["messages"] == 21 and counts["rejected"] == 0
    assert "observations:" in proc.stderr  # the human summary goes to standard error


@pytest.mark.parametrize("fmt", ["remoteid-pcap", "beast", "asterix", "sapient", "readsb-json", "sbs1", "dronescout-json"])
def test_decode_of_a_file_in_the_wrong_format_is_one_line_and_status_2(tmp_path, fmt):
    bogus = tmp_path / "photo.png"
    bogus.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    proc = run("decode", "--format", fmt, str(bogus), "-o", str(tmp_path / "o.jsonl"))
    assert "Traceback" not in proc.stderr
    if proc.returncode == 0:
        # Formats without a signature read it as a stream of unusable messages: counted, no output.
        assert (tmp_path / "o.jsonl").read_bytes() == b"" and "rejected" in proc.stderr
    else:
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


def test_decode_rejects_a_bad_option_in_one_line(tmp_path):
    proc = run("decode", "--format", "asterix", str(DATA / "adsb" / "aircraft.json"), "--sensor-position", "north")
    assert proc.returncode == 2 and "--sensor-position" in proc.stderr and "Traceback" not in proc.stderr


def test_replay_takes_a_sensor_format_directly(tmp_path):
    summary = tmp_path / "summary.json"
    proc = run("replay", "--format", "readsb-json", str(DATA / "adsb" / "aircraft.json"),
               "--tracks-out", str(tmp_path / "t.jsonl"), "--summary-json", str(summary))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(summary.read_text())
    assert result["input_format"] == "readsb-json"
    assert result["decoder"]["observations"] == result["accepted"] > 0
