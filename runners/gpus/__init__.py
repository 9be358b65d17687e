"""The workstation's GPUs: what there is (inventory), who holds what (the store's allocations),
and which devices a waiting run gets (placement)."""
