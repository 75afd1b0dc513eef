"""Prints an .rpm's name, version, release, requirements and files, one per
line as `key<TAB>value`, from its header (no rpm tools needed). Exits 1 on
anything that is not a well-formed RPM v3 package."""
import struct
import sys

NAME, VERSION, RELEASE = 1000, 1001, 1002
REQUIRENAME, DIRINDEXES, BASENAMES, DIRNAMES = 1049, 1116, 1117, 1118
STRING, STRING_ARRAY, I18NSTRING, INT32 = 6, 8, 9, 4


def header(data, offset):
    """Parses one header structure at offset: ({tag: value}, end offset)."""
    if data[offset:offset + 4] != b"\x8e\xad\xe8\x01":
        sys.exit("not an RPM header")
    count, size = struct.unpack(">II", data[offset + 8:offset + 16])
    index = offset + 16
    store = index + 16 * count
    tags = {}
    for i in range(count):
        tag, kind, where, n = struct.unpack(">IIII", data[index + 16 * i:index + 16 * (i + 1)])
        at = store + where
        if kind in (STRING, STRING_ARRAY, I18NSTRING):
            values = data[at:store + size].split(b"\0")[:n if kind != STRING else 1]
            tags[tag] = [v.decode() for v in values]
        elif kind == INT32:
            tags[tag] = list(struct.unpack(">%dI" % n, data[at:at + 4 * n]))
    return tags, store + size


data = open(sys.argv[1], "rb").read()
if data[:4] != b"\xed\xab\xee\xdb":
    sys.exit("no RPM lead")
_, end = header(data, 96)           # signature header, padded to 8 bytes
main, _ = header(data, (end + 7) // 8 * 8)
print("name\t" + main[NAME][0])
print("version\t" + main[VERSION][0])
print("release\t" + main[RELEASE][0])
for req in main.get(REQUIRENAME, []):
    print("requires\t" + req)
dirs = main.get(DIRNAMES, [])
for base, d in zip(main.get(BASENAMES, []), main.get(DIRINDEXES, [])):
    print("file\t" + dirs[d] + base)
