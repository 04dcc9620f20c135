module lockstep.local/egress-forwarder

go 1.19
