"""Record Access Control Point 0x2A52: the responses a server indicates.

Frame (GSS "Record Access Control Point"; PLXS v1.0.1, BLS v1.1.1; reference
ble-gatt-health.md §8): Op Code uint8 | Operator uint8 | Operand. Responses carry the Null
operator (0):

* op code 5, Number of Stored Records Response: operand uint16 count (PLXS/BLS/GLS size);
* op code 6, Response Code: operand = request op code (uint8) + response code (uint8).

Op codes 1-4 are requests a client writes, not responses; 0 and 7-255 are reserved. Both raise.
Response codes are kept as ints (a server may answer a request we never send with any code);
``RESPONSE_CODES`` names 1-9.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drivers.ble._reader import Reader
from drivers.ble.decoded import Decoded

OP_REPORT_STORED_RECORDS = 1
OP_DELETE_STORED_RECORDS = 2
OP_ABORT_OPERATION = 3
OP_REPORT_NUMBER_OF_STORED_RECORDS = 4
OP_NUMBER_OF_STORED_RECORDS_RESPONSE = 5
OP_RESPONSE_CODE = 6

SUCCESS = 1
NO_RECORDS_FOUND = 6

RESPONSE_CODES: dict[int, str] = {
    1: "success",
    2: "op code not supported",
    3: "invalid operator",
    4: "operator not supported",
    5: "invalid operand",
    6: "no records found",
    7: "abort unsuccessful",
    8: "procedure not completed",
    9: "operand not supported",
}


@dataclass(frozen=True)
class RacpResponse:
    op_code: int
    number_of_records: int | None = None  # op code 5
    request_op_code: int | None = None  # op code 6
    response_code: int | None = None  # op code 6
    raw: bytes = field(default=b"", compare=False, repr=False)

    @property
    def succeeded(self) -> bool:
        """True for a count, or for response code success / no records found."""
        return self.op_code == OP_NUMBER_OF_STORED_RECORDS_RESPONSE or self.response_code in (
            SUCCESS, NO_RECORDS_FOUND
        )

    @property
    def response_name(self) -> str | None:
        if self.response_code is None:
            return None
        return RESPONSE_CODES.get(self.response_code, "reserved")


def decode_response(data: bytes) -> Decoded:
    r = Reader("2A52", data)
    op_code = r.u8("op_code")
    if 1 <= op_code <= 4:
        raise r.error("op_code", f"{op_code} is a request, not a response")
    if op_code not in (OP_NUMBER_OF_STORED_RECORDS_RESPONSE, OP_RESPONSE_CODE):
        raise r.error("op_code", f"{op_code} is reserved")
    operator = r.u8("operator")
    if operator != 0:
        raise r.error("operator", f"{operator} must be 0 (Null) in a response")
    if op_code == OP_NUMBER_OF_STORED_RECORDS_RESPONSE:
        count = r.u16("number_of_records")
        r.end()
        return Decoded.of(RacpResponse(op_code, number_of_records=count, raw=data))
    request = r.u8("request_op_code")
    code = r.u8("response_code")
    r.end()
    if code == 0:
        raise r.error("response_code", "0 is reserved")
    return Decoded.of(
        RacpResponse(op_code, request_op_code=request, response_code=code, raw=data)
    )
