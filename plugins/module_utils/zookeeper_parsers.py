# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ZooKeeper's answers as data: pure parsers of the ``srvr`` and ``cons`` four-letter words, of
``zkServer.sh status`` and of ``zkCli.sh`` output (one command's, or a whole session's split per command),
and the errors they raise. No I/O here: ``zookeeper.py`` runs the tools and feeds their output in.

zkCli prints a znode's data as its writer chose it, so the parsers never trust a line for what it looks
like: the stat is the last stat block, the data has the length ZooKeeper reported, and a session whose
prompts repeat (data that imitates a prompt) is not split at all.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import re

NOT_SERVING = "This ZooKeeper instance is not currently serving requests"
KNOWN_MODES = ("leader", "follower", "standalone", "observer", "read-only")


class ZooKeeperError(Exception):
    """A ZooKeeper server, tool or connection failed; the message says which and how."""


class NoNodeError(ZooKeeperError):
    """The znode does not exist."""


class BadVersionError(ZooKeeperError):
    """The znode exists with another version than the one given."""


# ------------------------------------------------------------------------------------- srvr / status

_INT_FIELDS = {
    "received": "received",
    "sent": "sent",
    "connections": "connections",
    "outstanding": "outstanding",
    "node count": "node_count",
}


def _to_int(value):
    try:
        return int(value.strip())
    except (TypeError, ValueError, AttributeError):
        return None


def parse_srvr(text):
    """Parse the answer to the ``srvr`` four-letter word, or the output of ``zkServer.sh status``.

    Returns a dict with ``serving`` (bool), ``mode`` (``leader``, ``follower``, ``standalone``, ``observer``,
    ``read-only`` or None), ``version``, ``latency_min``/``latency_avg``/``latency_max``, ``received``,
    ``sent``, ``connections``, ``outstanding``, ``zxid``, ``node_count`` (None when absent) and ``error``
    (why the server does not serve, or None).
    """
    text = text if isinstance(text, str) else (text or b"").decode("utf-8", "replace")
    result = {
        "serving": False,
        "mode": None,
        "version": None,
        "latency_min": None,
        "latency_avg": None,
        "latency_max": None,
        "received": None,
        "sent": None,
        "connections": None,
        "outstanding": None,
        "zxid": None,
        "node_count": None,
        "error": None,
    }
    errors = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if NOT_SERVING.lower() in line.lower():
            errors.append(NOT_SERVING)
            continue
        if line.startswith("Error contacting service"):
            errors.append(line)
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        value = value.strip()
        if key == "zookeeper version":
            result["version"] = value
        elif key == "mode":
            mode = value.split()[0].lower() if value else None
            result["mode"] = mode
        elif key == "zxid":
            result["zxid"] = value
        elif key == "latency min/avg/max":
            parts = value.split("/")
            if len(parts) == 3:
                result["latency_min"] = _to_number(parts[0])
                result["latency_avg"] = _to_number(parts[1])
                result["latency_max"] = _to_number(parts[2])
        elif key in _INT_FIELDS:
            result[_INT_FIELDS[key]] = _to_int(value)
    if result["mode"] is not None and not errors:
        result["serving"] = True
    elif errors:
        result["mode"] = None
        result["error"] = "; ".join(errors)
    elif not text.strip():
        result["error"] = "no answer"
    else:
        result["error"] = "no Mode in the answer: %s" % tail(text)
    return result


def _to_number(value):
    value = value.strip()
    try:
        return int(value)
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return None


def tail(text, limit=400):
    """The end of a tool's output, for error messages (``...`` and the last ``limit`` characters)."""
    text = (text or "").strip()
    return text if len(text) <= limit else "..." + text[-limit:]


# ---------------------------------------------------------------------------------------- zkCli parser

_LOG_LINE = re.compile(
    r"^(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}|\d{2}:\d{2}:\d{2}[.,]\d{3} |\[\d{4}-\d{2}-\d{2}|log4j:|SLF4J:|"
    r"Connecting to |WATCHER::|WatchedEvent |JLine support|Welcome to ZooKeeper|"
    r"ZooKeeper JMX|Using config:|Client port found|\[zk: )"
)
_CHILDREN_LINE = re.compile(r"^\[([^\[\]]*)\]$")
_STAT_LINE = re.compile(r"^(cZxid|ctime|mZxid|mtime|pZxid|cversion|dataVersion|aclVersion|ephemeralOwner|"
                        r"dataLength|numChildren)\s*=\s*(.*)$")
_NO_NODE = re.compile(r"Node does not exist|KeeperErrorCode = NoNode|NoNodeException")
_BAD_VERSION = re.compile(r"version No is not valid|KeeperErrorCode = BadVersion|BadVersionException")
_KEEPER_ERROR = re.compile(r"KeeperErrorCode = (\w+)|(ConnectionLoss|SessionExpired|AuthFailed|NoAuth)")
_OLD_SYNTAX = re.compile(r"Path must start with / character|IllegalArgumentException: Path")
# zkCli echoes each command read from standard input after its prompt (with JLine, which the ZooKeeper
# distribution ships); a log line may follow the last prompt on the same line.
_PROMPT = re.compile(r"^\[zk: [^\]]*\(\w+\) \d+\] ?(.*)$")


def _content_lines(text):
    lines = []
    for raw in (text or "").splitlines():
        line = raw.rstrip("\r\n")
        stripped = line.strip()
        if not stripped or _LOG_LINE.match(stripped):
            continue
        lines.append(line)
    return lines


def zkcli_error(output, path=None):
    """The ZooKeeperError that zkCli's output reports, or None."""
    if _NO_NODE.search(output):
        return NoNodeError("no znode %s" % path if path else "no such znode")
    if _BAD_VERSION.search(output):
        return BadVersionError("%s has another version than the one given" % (path or "the znode"))
    match = _KEEPER_ERROR.search(output)
    if match:
        return ZooKeeperError("ZooKeeper error %s" % (match.group(1) or match.group(2)))
    return None


def zkcli_old_syntax(output):
    """zkCli refused the 3.5+ syntax (``get -s``, ``delete -v``): it is ZooKeeper 3.4's."""
    return _OLD_SYNTAX.search(output) is not None


def parse_zkcli_ls(text):
    """Children from ``zkCli.sh ls <path>`` output (log noise, WATCHER lines and prompts ignored).

    zkCli's event thread prints ``WatchedEvent ...`` while the main thread prints the list, so under load
    the list arrives split around that line (``[a, b`` / ``WatchedEvent ...`` / ``, c]``): a list that
    opens on one content line and closes on a later one is joined back.
    """
    found = None
    lines = [line.strip() for line in _content_lines(text)]
    index = 0
    while index < len(lines):
        line = lines[index]
        match = _CHILDREN_LINE.match(line)
        if not match and line.startswith("[") and "]" not in line:
            for end in range(index + 1, len(lines)):
                if "[" in lines[end]:
                    break
                if lines[end].endswith("]"):
                    match = _CHILDREN_LINE.match("".join(lines[index:end + 1]))
                    index = end
                    break
        if match:
            inner = match.group(1).strip()
            found = [c.strip() for c in inner.split(",") if c.strip()] if inner else []
        index += 1
    if found is None:
        raise ZooKeeperError("no children list ([...]) in the output: %s" % tail(text))
    return found


def zkcli_missing(path, section, stderr):
    """zkCli prints "Node does not exist: <path>" on standard error, outside the command's section."""
    return re.search(r"(?m)^Node does not exist: %s\s*$" % re.escape(path), section + "\n" + stderr) is not None


def split_zkcli_session(text, commands=None):
    """Split the output of a zkCli session fed commands on standard input into ``{command: output}``.

    Returns None when the output has no prompts to split on (zkCli without JLine does not echo commands),
    or, with ``commands``, when one of them is echoed more than once (a znode's data that imitates a
    prompt): the caller then runs one command per zkCli run, where no prompt is printed at all.
    """
    sections = {}
    seen = {}
    current = None
    for line in (text or "").splitlines():
        match = _PROMPT.match(line.strip())
        if match and (commands is None or match.group(1).strip() in commands or not match.group(1).strip()):
            current = match.group(1).strip()
            seen[current] = seen.get(current, 0) + 1
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    if not sections:
        return None
    if commands is not None and any(seen.get(c, 0) > 1 for c in commands):
        return None
    return dict((command, "\n".join(lines)) for command, lines in sections.items())


def _parse_ctime(value):
    """zkCli prints ctime as Java's Date.toString(); return epoch ms when the zone is UTC/GMT, else None."""
    value = value.strip()
    match = re.match(r"^\w{3} (\w{3}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (UTC|GMT|Z) (\d{4})$", value)
    if not match:
        return None
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    try:
        month = months.index(match.group(1)) + 1
    except ValueError:
        return None
    seconds = calendar.timegm((int(match.group(7)), month, int(match.group(2)), int(match.group(3)),
                               int(match.group(4)), int(match.group(5)), 0, 0, 0))
    return seconds * 1000


def _last_stat_block(lines):
    """``(stat fields, index of its first line)`` of the last whole stat block zkCli printed, ``({}, None)``
    without one."""
    starts = [i for i, line in enumerate(lines) if re.match(r"^cZxid\s*=", line.strip())]
    for start in reversed(starts):
        block = {}
        for line in lines[start:start + 11]:
            match = _STAT_LINE.match(line.strip())
            if not match:
                break
            block[match.group(1)] = match.group(2).strip()
        if "dataVersion" in block and "numChildren" in block:
            return block, start
    return {}, None


def zkcli_has_stat(text):
    """zkCli printed a whole stat block: the node was read. Its data may then say anything ("Node does not
    exist", "KeeperErrorCode = ...", a 3.4 syntax error): none of it is taken for zkCli's own error."""
    return _last_stat_block(_content_lines(text))[1] is not None


def parse_zkcli_get(text):
    """Data and stat from ``zkCli.sh get -s <path>`` (3.5+) or ``get <path>`` (3.4) output.

    Returns ``(data, stat)``: ``data`` is the node's text, ``stat`` a dict with ``version`` (dataVersion),
    ``ephemeral_owner`` (int; 0 for a persistent node), ``ctime`` (epoch ms, or None when zkCli printed it
    in a zone other than UTC), ``ctime_text``, ``czxid``, ``mzxid``, ``data_length``, ``num_children``.

    The node's data is whatever its writer chose, so it may itself look like a stat block, a prompt or a
    log line: the stat is the *last* block zkCli printed (it prints the data first), and the data is taken
    only where its length is the ``dataLength`` ZooKeeper reported (the lines before the stat block, else
    the last single line of that length). Otherwise the raw lines are returned, which no registration
    parser accepts.
    """
    lines = _content_lines(text)
    raw, block_start = _last_stat_block(lines)
    if block_start is None:
        raise ZooKeeperError("no stat (dataVersion = ...) in the output: %s" % tail(text))
    data_length = _to_int(raw.get("dataLength"))
    before = [line for line in lines[:block_start] if line.strip()]
    data = None
    if data_length == 0:
        data = None
    elif before:
        whole = "\n".join(line.strip() for line in before)
        # The data as one piece split by the event thread's output, or one line among noise (see ls).
        candidates = [whole, "".join(line.strip() for line in before)] + [line.strip() for line in reversed(before)]
        sized = [c for c in candidates if len(c.encode("utf-8")) == data_length]
        data = whole if data_length is None or not sized else sized[0]
        if data == "null" and data_length in (None, 4) and len(before) == 1:
            data = None if data_length is None else data
    owner_text = raw.get("ephemeralOwner", "0")
    try:
        owner = int(owner_text, 16) if owner_text.lower().startswith("0x") else int(owner_text)
    except ValueError:
        owner = None
    stat = {
        "version": _to_int(raw.get("dataVersion")),
        "ephemeral_owner": owner,
        "ctime": _parse_ctime(raw.get("ctime", "")),
        "ctime_text": raw.get("ctime"),
        "czxid": raw.get("cZxid"),
        "mzxid": raw.get("mZxid"),
        "data_length": data_length,
        "num_children": _to_int(raw.get("numChildren")),
    }
    return data, stat


_CONS_LINE = re.compile(r"^\s*/\S+\[\d+\]\((.*)\)\s*$")
_SESSION_ID = re.compile(r"(?:^|,)sid=0x([0-9a-fA-F]+)(?:,|$)")


def parse_cons(text):
    """Session ids (ints) of the connections listed in a server's answer to the ``cons`` four-letter word.

    Every answer lists at least the connection that asked (without a session id yet); an answer without any
    connection line is not a ``cons`` listing (not whitelisted, not serving, cut off) and raises
    ZooKeeperError, so that silence is never taken for "no such session".
    """
    text = text if isinstance(text, str) else (text or b"").decode("utf-8", "replace")
    sessions = set()
    connections = 0
    for line in text.splitlines():
        match = _CONS_LINE.match(line)
        if not match:
            continue
        connections += 1
        found = _SESSION_ID.search(match.group(1))
        if found:
            sessions.add(int(found.group(1), 16))
    if not connections:
        if NOT_SERVING.lower() in text.lower():
            raise ZooKeeperError(NOT_SERVING)
        if "not in the whitelist" in text:
            raise ZooKeeperError("cons is not whitelisted: add it to 4lw.commands.whitelist "
                                 "(ZOO_4LW_COMMANDS_WHITELIST)")
        raise ZooKeeperError("no connection list in the answer to cons: %s" % (tail(text) or "empty"))
    return sessions


# ------------------------------------------------------------------------------------ module parameters

def split_host_port(item, default_port=2181):
    item = item.strip()
    if item.startswith("["):
        host, dummy, rest = item[1:].partition("]")
        port = rest.lstrip(":") or default_port
    elif item.count(":") == 1:
        host, port = item.split(":")
    else:
        host, port = item, default_port
    return host, int(port)
