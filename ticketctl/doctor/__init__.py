"""``ticketctl doctor``: the check runner (:mod:`ticketctl.doctor.core`) and one module of checks per server."""
