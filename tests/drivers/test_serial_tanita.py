"""Tanita ``tanita-csv`` parser (drivers/serial/tanita.py).

Published lines used:
* SC-240 instruction manual p. 24 "Output sample" (manualslib.mx / manualshive.com). The
  extracted PDF text shows a space after each comma and typographic quotes; the line here
  has neither, and only that form matches the printed checksum ``FD``.
* SC-330 line from a GitHub README (a Tanita-to-web-socket adapter; log line "Data from
  device:", found with the code search), checksum ``D9``.
* MC-780 line from a GitHub Deno test (``MC780A`` parser test, found with the code
  search), checksum ``24``.
* TBF-310 positional line from github:obiba/onyx, Tbf310InstrumentRunnerTest.testRun.
Lines marked "derived" are edited from those with the checksum recomputed here.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from drivers.measurements import Weight
from drivers.serial import parser
from tests.drivers.properties import assert_chunking_invariant
from vitals.flags import FLAGS

SC240 = (
    b'{0,16,~0,1,~1,1,~2,1,MO,"SC-240",SN,"00000002",Bt,0,GE,1,AG,30,Hm,170,Pt,0.0,Wk,'
    b"82.7,FW,18.6,fW,15.4,MW,67.3,mW,64.0,sW,19,bW,3.3,wW,48.0,ww,58.0,MI,28.6,Sw,63.6,"
    b"OV,30.0,IF,6,rb,8255,rB,1973,rJ,12,rA,28,ZF,369.4,CS,FD"
)
SC330 = (
    b'{0,16,~0,1,~1,1,~2,1,MO,"SC-330",SN,"00000001",ID,"0000000000",Da,"25/09/2014",'
    b'TI,"08:20",Bt,0,GE,1,AG,34,Hm,191.0,Pt,0.0,Wk,89.2,FW,18.8,fW,16.8,MW,72.4,mW,68.8,'
    b"sW,13,bW,3.6,wW,48.0,ww,53.8,MI,24.5,Sw,80.3,OV,11.1,IF,6,rb,8874,rB,2121,rJ,13,rA,29,"
    b"ZF,501.8,CS,D9"
)
MC780 = (
    b'{0,16,~0,1,~1,1,~2,1,MO,"MC-780",ID,"0000000000000000",St,0,CC,"0000000000000000",'
    b'DT,"2026/06/03",TI,"15:00",Bt,5,GE,1,AG,47,Hm,175.5,Pt,0.0,Wk,67.6,FW,18.3,fW,12.4,'
    b"MW,55.2,mW,52.3,sW,0,bW,2.9,wW,38.2,ww,56.5,MI,21.9,Sf,18.0,IF,9,LP,102,rB,1514,rJ,11,"
    b"BA,0,BF,0,Ap,55,gF,0,gW,0.0,gf,0.0,gt,0.0,FR,16.3,fR,2.1,MR,10.9,mR,10.3,SR,-1,sR,0,"
    b"FL,16.9,fL,2.2,ML,10.8,mL,10.2,SL,0,sL,0,Fr,13.9,fr,0.5,Mr,2.9,mr,2.7,Sr,0,sr,0,Fl,"
    b"15.4,fl,0.5,Ml,2.8,ml,2.6,Sl,0,sl,-1,FT,20.3,fT,7.1,MT,27.8,mT,26.5,ST,0,sT,-2,aH,0.0,"
    b"cH,0.0,GH,665.2,HH,-29.2,RH,586.1,XH,-61.5,JH,523.8,KH,-54.6,LH,0.0,QH,0.0,iH,0.0,jH,"
    b"0.0,aR,0.0,cR,0.0,GR,256.1,HR,-10.8,RR,225.8,XR,-22.0,JR,205.1,KR,-16.4,LR,0.0,QR,0.0,"
    b"iR,0.0,jR,0.0,aL,0.0,cL,0.0,GL,270.1,HL,-12.4,RL,236.4,XL,-23.9,JL,213.9,KL,-17.6,LL,"
    b"0.0,QL,0.0,iL,0.0,jL,0.0,ar,0.0,cr,0.0,Gr,360.1,Hr,-14.6,Rr,317.2,Xr,-36.6,Jr,277.0,"
    b"Kr,-38.1,Lr,0.0,Qr,0.0,ir,0.0,jr,0.0,al,0.0,cl,0.0,Gl,368.6,Hl,-15.0,Rl,326.0,Xl,"
    b"-35.3,Jl,287.4,Kl,-35.6,Ll,0.0,Ql,0.0,il,0.0,jl,0.0,aF,0.0,cF,0.0,GF,529.4,HF,-24.6,"
    b"RF,464.9,XF,-47.3,JF,418.8,KF,-36.0,LF,0.0,QF,0.0,iF,0.0,jF,0.0,aM,0.0,cM,0.0,GM,"
    b"643.8,HM,-28.3,RM,565.9,XM,-61.0,JM,504.4,KM,-56.4,LM,0.0,QM,0.0,iM,0.0,jM,0.0,pH,-6.0,"
    b"pR,-5.6,pL,-5.8,pr,-6.6,pl,-6.2,pF,-5.8,pM,-6.2,mh,16.98,mb,0.77,ah,8.38,ab,0.38,AS,"
    b"25.8,CS,24"
)
TBF310 = b"0,2,170,110.6,431,28.4,31.4,79.2,58.0,27,32.3,9771"
CRLF = b"\r\n"


def with_checksum(record_without_cs: bytes) -> bytes:
    """Append ``CS,hh``: low byte of the sum from ``{`` through the comma before CS."""
    body = record_without_cs + b","
    return body + b"CS," + b"%02X" % (sum(body) & 0xFF)


def run(data: bytes):
    p = parser("tanita-csv")
    return p.feed(data), p.errors


def summary(m: Weight):
    return (m.weight, m.unit, m.height, m.height_unit, m.bmi, m.timestamp)


def without_id(line: bytes) -> bytes:
    """What raw keeps of a line: everything but the ID field's value (a patient identifier)."""
    return re.sub(rb'ID,"[^"]*"', b'ID,""', line)


def test_sc240_manual_example() -> None:
    out, errors = run(SC240 + CRLF)
    assert errors == 0
    assert [summary(m) for m in out] == [
        (Decimal("82.7"), "kg", Decimal("170"), "cm", Decimal("28.6"), None)
    ]
    assert out[0].raw == SC240


def test_sc330_capture_with_date() -> None:
    out, errors = run(SC330 + CRLF)
    assert errors == 0
    assert [summary(m) for m in out] == [
        (
            Decimal("89.2"),
            "kg",
            Decimal("191.0"),
            "cm",
            Decimal("24.5"),
            datetime(2014, 9, 25, 8, 20),
        )
    ]
    assert str(out[0].height) == "191.0"


def test_mc780_long_line() -> None:
    out, errors = run(MC780 + CRLF)
    assert errors == 0
    # DT is yyyy/mm/dd on this model, not the documented Da dd/mm/yyyy: no timestamp
    assert [summary(m) for m in out] == [
        (Decimal("67.6"), "kg", Decimal("175.5"), "cm", Decimal("21.9"), None)
    ]


def test_tbf310_positional_line() -> None:
    out, errors = run(TBF310 + CRLF)
    assert errors == 0
    assert [summary(m) for m in out] == [
        (Decimal("110.6"), "kg", Decimal("170"), "cm", Decimal("32.3"), None)
    ]


def test_pound_mode() -> None:
    # derived: WB-3000 manual p. 10 lists Wp (weight, lb mode); Hf height is not read
    line = with_checksum(b'{0,16,~0,1,~1,1,~2,1,MO,"WB-3000",Hf,5\'07.0,Wp,182.4,MI,28.6')
    out, errors = run(line + CRLF)
    assert errors == 0
    assert [summary(m) for m in out] == [
        (Decimal("182.4"), "[lb_av]", None, None, Decimal("28.6"), None)
    ]


def test_checksum_helper_matches_published_lines() -> None:
    # guards the test helper itself against the printed checksums
    for line in (SC240, SC330, MC780):
        assert with_checksum(line.rsplit(b",CS,", 1)[0]) == line


def test_broken_checksum_and_truncation_are_dropped() -> None:
    bad = [
        SC240[:-2] + b"FE",  # wrong checksum
        SC240[:-2] + b"zz",  # not hex
        SC240[: SC240.index(b"MI,")],  # truncated before CS
        SC330.replace(b"Wk,89.2", b"Wk,89.3"),  # a changed digit
        b"0,2,170,110.6,431,28.4",  # short positional line
        b"5,2,170,110.6,431,28.4,31.4,79.2,58.0,27,32.3,9771",  # body type 5
    ]
    out, errors = run(CRLF.join(bad) + CRLF + SC240 + CRLF)
    assert errors == len(bad)
    assert [m.weight for m in out] == [Decimal("82.7")]


def test_junk_before_record_is_counted_and_skipped() -> None:
    out, errors = run(b"\x00\xfe" + SC330 + CRLF)
    assert errors == 1
    assert [m.weight for m in out] == [Decimal("89.2")]
    assert out[0].raw == without_id(SC330)


def test_record_without_weight_yields_nothing() -> None:
    # derived: a record carrying only height (no Wk/Wp)
    out, errors = run(with_checksum(b'{0,16,~0,1,~1,1,~2,1,MO,"WB-3000",Hm,170.0') + CRLF)
    assert out == [] and errors == 0


VALID = [SC240 + CRLF, SC330 + CRLF, TBF310 + CRLF]


@given(st.binary(max_size=400))
def test_random_bytes_never_raise(data: bytes) -> None:
    p = parser("tanita-csv")
    for m in p.feed(data):
        assert isinstance(m, Weight) and m.flags <= FLAGS
    assert p.errors >= 0


@given(st.lists(st.sampled_from([*VALID, b"junk", b"\r", b"\n", SC240[:40]])), st.data())
def test_chunking_does_not_change_the_result(pieces: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(pieces)
    assert_chunking_invariant(
        "tanita-csv", stream, data.draw(st.lists(st.integers(0, len(stream)), max_size=12))
    )


@given(
    st.binary(min_size=1, max_size=300).filter(lambda b: b.strip(b"\r\n") and b"{0," not in b),
    st.sampled_from(VALID),
)
def test_garbage_then_valid_line_resyncs(garbage: bytes, line: bytes) -> None:
    out, errors = run(garbage + CRLF + line)
    assert errors > 0 or len(out) > 1  # (random bytes could form a TBF-310 line)
    assert out[-1].raw == without_id(line.rstrip(CRLF))


def test_patient_id_is_blanked_in_raw():
    # The ID field is typed on the scale by the operator: a patient identifier. The reading
    # is still decoded, and the ID never leaves the parser (not even in raw, which is
    # published for audit).
    body = b'{0,16,~0,1,~1,1,~2,1,MO,"WB-3000",ID,"PATIENT12345",Wk,72.5,CS,'
    # the checksum covers everything up to the comma before CS (SC-240 manual example)
    line = body + f"{sum(body[:-3]) & 0xFF:02X}".encode() + b"\r\n"
    [weight] = parser("tanita-csv").feed(line)
    assert weight.weight == Decimal("72.5")
    assert b"PATIENT12345" not in weight.raw
    assert b'ID,""' in weight.raw
