"""In-memory fakes of every port of rcs_revoker.domain.ports, behaving like the real adapters (conditional
writes, receive counts, failures on demand). tests/contract/ runs the same assertions against each fake and
its adapter on moto server, so that a fake cannot drift from what it stands for."""
