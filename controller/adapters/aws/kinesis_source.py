"""kinesis://STREAM?region=REGION[&endpoint=URL]: every shard of a Kinesis stream as a source.

Each shard is a partition; its position is the last sequence number read, stored with the
aggregates in one transaction (`after:SEQ`), or `end` once a closed shard has been read to its
end. Resharding: a shard created by a split or a merge is read only after its parent(s) have
been read to their end, so the events of one partition key stay in order; it also inherits its
parents' open sessions. The shard list is refreshed as shards close and every
`SHARD_REFRESH_S`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from controller.adapters.event_source import (
    PositionLookup,
    RecordChunk,
    SourceHealth,
    parse_source_url,
)
from controller.domain.errors import ConfigError, TemporaryError

PARAMS = ("region", "endpoint")
END = "end"
SHARD_REFRESH_S = 30.0
MAX_RECORDS_PER_CALL = 10_000
IDLE_WAIT_S = 0.2
"""AWS allows 5 GetRecords calls per second per shard: with nothing new, wait this long."""
log = logging.getLogger(__name__)


@dataclass
class _Shard:
    id: str
    parents: tuple[str, ...]
    ending: int | None
    """the last sequence number of a closed shard (None while open)"""
    start: str | None
    """where the next chunk of this shard starts"""
    iterator: str | None = None
    done: bool = False
    at_tip: bool = False


class KinesisEventSource:
    replayable = False

    def __init__(self, url: str, positions: PositionLookup, client: Any = None) -> None:
        parsed = parse_source_url(url, PARAMS)
        stream = parsed.netloc or parsed.path.strip("/")
        region = parsed.param("region") or boto3.session.Session().region_name
        if not stream:
            raise ConfigError(f"source URL {url!r}: expected kinesis://STREAM?region=REGION")
        if not region:
            raise ConfigError(
                f"source URL {url!r}: no region (add ?region=REGION or set AWS_DEFAULT_REGION)"
            )
        self.url = url
        self.stream = stream
        self.region = region
        self.endpoint = parsed.param("endpoint")
        self.key = f"kinesis://{stream}?region={region}"
        self._positions = positions
        self._client = client
        self._shards: dict[str, _Shard] = {}
        self._listed_at = 0.0
        self._problem: str | None = None

    # -- the protocol ------------------------------------------------------------------------

    def poll(self, max_records: int, timeout_s: float) -> list[RecordChunk]:
        try:
            chunks = self._poll(max_records)
        except (BotoCoreError, ClientError) as exc:
            for shard in self._shards.values():
                shard.iterator = None  # iterators expire; take fresh ones from the positions
            where = self.endpoint or self.region
            self._problem = f"kinesis {self.stream} ({where}): {exc}"
            raise TemporaryError(self._problem) from exc
        self._problem = None
        if not chunks:
            time.sleep(min(timeout_s, IDLE_WAIT_S))
        return chunks

    def rewind(self, partition: str, position: str | None) -> None:
        shard = self._shards.get(partition)
        if shard is not None:
            shard.start, shard.iterator = position, None
            shard.done, shard.at_tip = position == END, False

    def caught_up(self) -> bool:
        readable = [s for s in self._shards.values() if self._readable(s)]
        return bool(self._shards) and all(s.at_tip for s in readable)

    def acknowledge(self, positions: dict[str, str]) -> None:
        pass  # Kinesis keeps no consumer positions (the KCL keeps them in DynamoDB; we in SQL)

    def health(self) -> SourceHealth:
        return SourceHealth(self._problem is None, self._problem or "")

    def close(self) -> None:
        self._shards.clear()
        self._listed_at = 0.0

    # -- shards ------------------------------------------------------------------------------

    def _kinesis(self) -> Any:
        if self._client is None:
            self._client = boto3.client(
                "kinesis",
                region_name=self.region,
                endpoint_url=self.endpoint,
                config=Config(
                    connect_timeout=3,
                    read_timeout=10,
                    retries={"max_attempts": 2, "mode": "standard"},
                ),
            )
        return self._client

    def _poll(self, max_records: int) -> list[RecordChunk]:
        if not self._shards or time.monotonic() - self._listed_at > SHARD_REFRESH_S:
            self._list_shards()
        chunks = []
        budget = max_records
        # Decided before reading: a child whose parent finishes in this poll waits for the next
        # one, after the parent's end (and its sessions) have been committed.
        readable = [
            s for s in sorted(self._shards.values(), key=lambda s: s.id) if self._readable(s)
        ]
        for shard in readable:
            if budget <= 0:
                break
            chunk = self._read(shard, min(budget, MAX_RECORDS_PER_CALL))
            if chunk is not None:
                chunks.append(chunk)
                budget -= len(chunk)
        if any(s.done for s in self._shards.values()) and any(
            not s.done and not self._readable(s) for s in self._shards.values()
        ):
            self._listed_at = 0.0  # a parent just finished: look for its children next time
        return chunks

    def _list_shards(self) -> None:
        client = self._kinesis()
        found: list[dict[str, Any]] = []
        request: dict[str, Any] = {"StreamName": self.stream}
        while True:
            page = client.list_shards(**request)
            found.extend(page["Shards"])
            token = page.get("NextToken")
            if not token:
                break
            request = {"NextToken": token}
        for item in found:
            ending = item["SequenceNumberRange"].get("EndingSequenceNumber")
            shard = self._shards.get(item["ShardId"])
            if shard is None:
                parents = tuple(
                    p for p in (item.get("ParentShardId"), item.get("AdjacentParentShardId")) if p
                )
                start = self._positions.position(self.key, item["ShardId"])
                shard = _Shard(item["ShardId"], parents, None, start, done=start == END)
                self._shards[shard.id] = shard
            shard.ending = int(ending) if ending is not None else None
        self._listed_at = time.monotonic()

    def _readable(self, shard: _Shard) -> bool:
        """Not finished, and every parent we know of has been read to its end."""
        if shard.done:
            return False
        for parent_id in shard.parents:
            parent = self._shards.get(parent_id)
            if parent is not None and not parent.done:
                return False
        return True

    def _read(self, shard: _Shard, limit: int) -> RecordChunk | None:
        client = self._kinesis()
        if shard.iterator is None:
            shard.iterator = self._iterator(shard)
        try:
            response = client.get_records(ShardIterator=shard.iterator, Limit=limit)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ExpiredIteratorException":
                shard.iterator = None
                return None
            if code == "ProvisionedThroughputExceededException":
                log.info("shard %s: throughput exceeded, reading it next time", shard.id)
                return None
            raise
        records = response.get("Records", [])
        shard.iterator = response.get("NextShardIterator")
        last = int(records[-1]["SequenceNumber"]) if records else _sequence(shard.start)
        finished = shard.iterator is None or (
            shard.ending is not None and last is not None and last >= shard.ending
        )
        shard.at_tip = not records and not finished
        if not records and not finished:
            return None
        start = shard.start
        end = END if finished else f"after:{records[-1]['SequenceNumber']}"
        shard.start, shard.done = end, finished
        sequences = [r["SequenceNumber"] for r in records]
        stream, shard_id = self.stream, shard.id
        return RecordChunk(
            partition=shard.id,
            records=[r["Data"] for r in records],
            start=start,
            end=end,
            position_at=lambda i: f"at:{sequences[i]}",
            label_at=lambda i: f"{stream} {shard_id} sequence {sequences[i]}",
            inherits=shard.parents,
        )

    def _iterator(self, shard: _Shard) -> str:
        request: dict[str, Any] = {"StreamName": self.stream, "ShardId": shard.id}
        position = shard.start
        if position is None:
            request["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            kind, _, sequence = position.partition(":")
            request["ShardIteratorType"] = (
                "AT_SEQUENCE_NUMBER" if kind == "at" else "AFTER_SEQUENCE_NUMBER"
            )
            request["StartingSequenceNumber"] = sequence
        return str(self._kinesis().get_shard_iterator(**request)["ShardIterator"])


def _sequence(position: str | None) -> int | None:
    if position is None or position == END:
        return None
    return int(position.partition(":")[2])
