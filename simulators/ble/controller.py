"""bumble's virtual controller with the one fix the simulation needs.

bumble 0.0.236's ``Controller`` answers *LE Create Connection Cancel* with success but keeps
the pending connection and never sends the *LE Connection Complete (Unknown Connection
Identifier)* the Core spec requires (Vol 4, Part E, 7.8.13). ``Device.connect(timeout=...)`` to
an absent device then hangs and every later connect gets *Command Disallowed*
(shared/reference/ble-simulation.md §6, finding 1). We own every virtual controller we create,
so the fix lives in this subclass.
"""

from __future__ import annotations

import asyncio

from bumble import hci
from bumble.controller import Controller


class FixedController(Controller):
    def on_hci_le_create_connection_cancel_command(self, command):
        pending = self.pending_le_connection
        self.pending_le_connection = None
        if pending is not None:
            failed = hci.HCI_LE_Connection_Complete_Event(
                status=hci.HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR,
                connection_handle=0,
                role=hci.Role.CENTRAL,
                peer_address_type=pending.peer_address.address_type,
                peer_address=pending.peer_address,
                connection_interval=0,
                peripheral_latency=0,
                supervision_timeout=0,
                central_clock_accuracy=0,
            )
            # After the Command Complete that the base class sends for this command.
            asyncio.get_running_loop().call_soon(self.send_hci_packet, failed)
        return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.SUCCESS)
