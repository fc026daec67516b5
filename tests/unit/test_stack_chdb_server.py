"""stack.chdb_server: the local ClickHouse's config, one user with a password and a fenced default."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET

from kafka_elt.stack.chdb_server import render_config


def test_clickhouse_config_has_one_password_user_and_a_fenced_default():
    config_xml, users_xml = render_config("127.0.0.1", 8123, "elt", "s3cret")
    config = ET.fromstring(config_xml)
    assert config.findtext("listen_host") == "127.0.0.1"
    assert config.findtext("users_config") == "users.xml"
    users = ET.fromstring(users_xml).find("users")
    elt = users.find("elt")
    assert elt.findtext("password_sha256_hex") == hashlib.sha256(b"s3cret").hexdigest()
    assert "s3cret" not in users_xml
    grants = [q.text for q in users.find("default").find("grants")]
    assert grants == ["GRANT SYSTEM LISTEN ON *.*", "GRANT SELECT(number) ON system.numbers"]
