"""The runtime contract of every workload container, the one source both container launchers read.

The kubernetes launcher turns it into the pod's security contexts and /tmp volume, the docker launcher
into the container's user and host config, so a run in `docker` mode meets the restrictions the pod
enforces (and a workload that writes outside /tmp and the data root fails on one host, not in a cluster).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class RuntimeContract:
    uid: int
    gid: int
    read_only_root_filesystem: bool
    # The one writable path besides the data root: scratch space that lives as long as the container.
    tmp_dir: str
    # Images set HOME to a folder in their own (read-only) layer; caches under ~ must land in tmp_dir.
    home: str
    dropped_capabilities: tuple[str, ...]
    no_new_privileges: bool

    @property
    def user(self) -> str:
        return f"{self.uid}:{self.gid}"

    @property
    def env(self) -> dict[str, str]:
        return {"HOME": self.home}


# uid/gid 10001 is the user every services/*/Dockerfile creates and switches to.
WORKLOAD_RUNTIME = RuntimeContract(
    uid=10001,
    gid=10001,
    read_only_root_filesystem=True,
    tmp_dir="/tmp",
    home="/tmp",
    dropped_capabilities=("ALL",),
    no_new_privileges=True,
)
