from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ChangeAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANGE_ACTION_UNSPECIFIED: _ClassVar[ChangeAction]
    CHANGE_ACTION_CREATED: _ClassVar[ChangeAction]
    CHANGE_ACTION_NEW_VERSION: _ClassVar[ChangeAction]
    CHANGE_ACTION_UNCHANGED: _ClassVar[ChangeAction]
    CHANGE_ACTION_METADATA_UPDATED: _ClassVar[ChangeAction]

class PayloadFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYLOAD_FORMAT_UNSPECIFIED: _ClassVar[PayloadFormat]
    PAYLOAD_FORMAT_JSON_LINES: _ClassVar[PayloadFormat]
    PAYLOAD_FORMAT_CSV: _ClassVar[PayloadFormat]
    PAYLOAD_FORMAT_ARROW_IPC: _ClassVar[PayloadFormat]
CHANGE_ACTION_UNSPECIFIED: ChangeAction
CHANGE_ACTION_CREATED: ChangeAction
CHANGE_ACTION_NEW_VERSION: ChangeAction
CHANGE_ACTION_UNCHANGED: ChangeAction
CHANGE_ACTION_METADATA_UPDATED: ChangeAction
PAYLOAD_FORMAT_UNSPECIFIED: PayloadFormat
PAYLOAD_FORMAT_JSON_LINES: PayloadFormat
PAYLOAD_FORMAT_CSV: PayloadFormat
PAYLOAD_FORMAT_ARROW_IPC: PayloadFormat

class Quantile(_message.Message):
    __slots__ = ("q", "value")
    Q_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    q: float
    value: float
    def __init__(self, q: _Optional[float] = ..., value: _Optional[float] = ...) -> None: ...

class HistogramBin(_message.Message):
    __slots__ = ("low", "high", "count")
    LOW_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    low: float
    high: float
    count: int
    def __init__(self, low: _Optional[float] = ..., high: _Optional[float] = ..., count: _Optional[int] = ...) -> None: ...

class GetFeatureStatsRequest(_message.Message):
    __slots__ = ("reference", "buckets", "bucket")
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    reference: str
    buckets: int
    bucket: str
    def __init__(self, reference: _Optional[str] = ..., buckets: _Optional[int] = ..., bucket: _Optional[str] = ...) -> None: ...

class FeatureStatsResponse(_message.Message):
    __slots__ = ("feature", "evaluated_at_micros", "truncated", "count", "nulls", "mean", "stddev", "min", "max", "quantiles", "histogram", "buckets")
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    EVALUATED_AT_MICROS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    NULLS_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    STDDEV_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    QUANTILES_FIELD_NUMBER: _ClassVar[int]
    HISTOGRAM_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    feature: str
    evaluated_at_micros: int
    truncated: bool
    count: int
    nulls: int
    mean: float
    stddev: float
    min: float
    max: float
    quantiles: _containers.RepeatedCompositeFieldContainer[Quantile]
    histogram: _containers.RepeatedCompositeFieldContainer[HistogramBin]
    buckets: _containers.RepeatedCompositeFieldContainer[FeatureStatsResponse]
    def __init__(self, feature: _Optional[str] = ..., evaluated_at_micros: _Optional[int] = ..., truncated: _Optional[bool] = ..., count: _Optional[int] = ..., nulls: _Optional[int] = ..., mean: _Optional[float] = ..., stddev: _Optional[float] = ..., min: _Optional[float] = ..., max: _Optional[float] = ..., quantiles: _Optional[_Iterable[_Union[Quantile, _Mapping]]] = ..., histogram: _Optional[_Iterable[_Union[HistogramBin, _Mapping]]] = ..., buckets: _Optional[_Iterable[_Union[FeatureStatsResponse, _Mapping]]] = ...) -> None: ...

class ListObjectsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class RegistryObject(_message.Message):
    __slots__ = ("name", "version", "versions", "description", "definition_json", "owner", "tags")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_JSON_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    versions: _containers.RepeatedScalarFieldContainer[int]
    description: str
    definition_json: str
    owner: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., versions: _Optional[_Iterable[int]] = ..., description: _Optional[str] = ..., definition_json: _Optional[str] = ..., owner: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ...) -> None: ...

class ListObjectsResponse(_message.Message):
    __slots__ = ("objects", "next_page_token")
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    objects: _containers.RepeatedCompositeFieldContainer[RegistryObject]
    next_page_token: str
    def __init__(self, objects: _Optional[_Iterable[_Union[RegistryObject, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DescribeFeatureRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class LineageTable(_message.Message):
    __slots__ = ("kind", "name", "version")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    kind: str
    name: str
    version: int
    def __init__(self, kind: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class FeatureVersionDetail(_message.Message):
    __slots__ = ("version", "state", "definition_json", "upstream", "applied_at_micros", "applied_by", "metadata_updated_at_micros", "metadata_updated_by")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_JSON_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_FIELD_NUMBER: _ClassVar[int]
    APPLIED_AT_MICROS_FIELD_NUMBER: _ClassVar[int]
    APPLIED_BY_FIELD_NUMBER: _ClassVar[int]
    METADATA_UPDATED_AT_MICROS_FIELD_NUMBER: _ClassVar[int]
    METADATA_UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    version: int
    state: str
    definition_json: str
    upstream: _containers.RepeatedCompositeFieldContainer[LineageTable]
    applied_at_micros: int
    applied_by: str
    metadata_updated_at_micros: int
    metadata_updated_by: str
    def __init__(self, version: _Optional[int] = ..., state: _Optional[str] = ..., definition_json: _Optional[str] = ..., upstream: _Optional[_Iterable[_Union[LineageTable, _Mapping]]] = ..., applied_at_micros: _Optional[int] = ..., applied_by: _Optional[str] = ..., metadata_updated_at_micros: _Optional[int] = ..., metadata_updated_by: _Optional[str] = ...) -> None: ...

class DescribeFeatureResponse(_message.Message):
    __slots__ = ("name", "versions", "training_sets")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    TRAINING_SETS_FIELD_NUMBER: _ClassVar[int]
    name: str
    versions: _containers.RepeatedCompositeFieldContainer[FeatureVersionDetail]
    training_sets: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., versions: _Optional[_Iterable[_Union[FeatureVersionDetail, _Mapping]]] = ..., training_sets: _Optional[_Iterable[str]] = ...) -> None: ...

class ListFeaturesRequest(_message.Message):
    __slots__ = ("entity", "source", "state", "page_size", "page_token", "owner", "tags", "upstream")
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_FIELD_NUMBER: _ClassVar[int]
    entity: str
    source: str
    state: str
    page_size: int
    page_token: str
    owner: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    upstream: str
    def __init__(self, entity: _Optional[str] = ..., source: _Optional[str] = ..., state: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., owner: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., upstream: _Optional[str] = ...) -> None: ...

class SearchFeaturesRequest(_message.Message):
    __slots__ = ("query", "limit")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    query: str
    limit: int
    def __init__(self, query: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class FeatureSummary(_message.Message):
    __slots__ = ("name", "version", "versions", "entity", "source", "aggregate", "window", "type", "description", "state", "owner", "tags", "upstream")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    versions: _containers.RepeatedScalarFieldContainer[int]
    entity: str
    source: str
    aggregate: str
    window: str
    type: str
    description: str
    state: str
    owner: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    upstream: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., versions: _Optional[_Iterable[int]] = ..., entity: _Optional[str] = ..., source: _Optional[str] = ..., aggregate: _Optional[str] = ..., window: _Optional[str] = ..., type: _Optional[str] = ..., description: _Optional[str] = ..., state: _Optional[str] = ..., owner: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., upstream: _Optional[_Iterable[str]] = ...) -> None: ...

class ListFeaturesResponse(_message.Message):
    __slots__ = ("features", "next_page_token")
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    features: _containers.RepeatedCompositeFieldContainer[FeatureSummary]
    next_page_token: str
    def __init__(self, features: _Optional[_Iterable[_Union[FeatureSummary, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ApplyRequest(_message.Message):
    __slots__ = ("definitions", "file_name", "base_dir", "dry_run")
    DEFINITIONS_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    BASE_DIR_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    definitions: str
    file_name: str
    base_dir: str
    dry_run: bool
    def __init__(self, definitions: _Optional[str] = ..., file_name: _Optional[str] = ..., base_dir: _Optional[str] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class PlannedChange(_message.Message):
    __slots__ = ("kind", "name", "version", "action", "previous_version")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_VERSION_FIELD_NUMBER: _ClassVar[int]
    kind: str
    name: str
    version: int
    action: ChangeAction
    previous_version: int
    def __init__(self, kind: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[int] = ..., action: _Optional[_Union[ChangeAction, str]] = ..., previous_version: _Optional[int] = ...) -> None: ...

class ApplyResponse(_message.Message):
    __slots__ = ("changes", "dry_run")
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[PlannedChange]
    dry_run: bool
    def __init__(self, changes: _Optional[_Iterable[_Union[PlannedChange, _Mapping]]] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class DefinitionProblem(_message.Message):
    __slots__ = ("file", "object", "field", "sql_line", "sql_column", "reason")
    FILE_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    SQL_LINE_FIELD_NUMBER: _ClassVar[int]
    SQL_COLUMN_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    file: str
    object: str
    field: str
    sql_line: int
    sql_column: int
    reason: str
    def __init__(self, file: _Optional[str] = ..., object: _Optional[str] = ..., field: _Optional[str] = ..., sql_line: _Optional[int] = ..., sql_column: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class DefinitionsRefused(_message.Message):
    __slots__ = ("problems",)
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    problems: _containers.RepeatedCompositeFieldContainer[DefinitionProblem]
    def __init__(self, problems: _Optional[_Iterable[_Union[DefinitionProblem, _Mapping]]] = ...) -> None: ...

class IngestRequest(_message.Message):
    __slots__ = ("source", "format", "data", "skip_bad_rows", "validate_only", "wait")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    SKIP_BAD_ROWS_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    source: str
    format: PayloadFormat
    data: bytes
    skip_bad_rows: bool
    validate_only: bool
    wait: bool
    def __init__(self, source: _Optional[str] = ..., format: _Optional[_Union[PayloadFormat, str]] = ..., data: _Optional[bytes] = ..., skip_bad_rows: _Optional[bool] = ..., validate_only: _Optional[bool] = ..., wait: _Optional[bool] = ...) -> None: ...

class RowError(_message.Message):
    __slots__ = ("row", "column", "reason")
    ROW_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    row: int
    column: str
    reason: str
    def __init__(self, row: _Optional[int] = ..., column: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class IngestResponse(_message.Message):
    __slots__ = ("accepted", "rejected", "errors", "first_position", "next_position", "partition", "late")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    FIRST_POSITION_FIELD_NUMBER: _ClassVar[int]
    NEXT_POSITION_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    LATE_FIELD_NUMBER: _ClassVar[int]
    accepted: int
    rejected: int
    errors: _containers.RepeatedCompositeFieldContainer[RowError]
    first_position: str
    next_position: str
    partition: int
    late: int
    def __init__(self, accepted: _Optional[int] = ..., rejected: _Optional[int] = ..., errors: _Optional[_Iterable[_Union[RowError, _Mapping]]] = ..., first_position: _Optional[str] = ..., next_position: _Optional[str] = ..., partition: _Optional[int] = ..., late: _Optional[int] = ...) -> None: ...

class GetStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PartitionStatus(_message.Message):
    __slots__ = ("partition", "head", "local_from", "archived_from", "archived_to")
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    HEAD_FIELD_NUMBER: _ClassVar[int]
    LOCAL_FROM_FIELD_NUMBER: _ClassVar[int]
    ARCHIVED_FROM_FIELD_NUMBER: _ClassVar[int]
    ARCHIVED_TO_FIELD_NUMBER: _ClassVar[int]
    partition: int
    head: str
    local_from: str
    archived_from: str
    archived_to: str
    def __init__(self, partition: _Optional[int] = ..., head: _Optional[str] = ..., local_from: _Optional[str] = ..., archived_from: _Optional[str] = ..., archived_to: _Optional[str] = ...) -> None: ...

class SourceStatus(_message.Message):
    __slots__ = ("name", "version", "partitions", "events_accepted", "events_rejected", "events_rejected_kept", "kind", "events_late", "events_processed", "lag")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    EVENTS_ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    EVENTS_REJECTED_FIELD_NUMBER: _ClassVar[int]
    EVENTS_REJECTED_KEPT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    EVENTS_LATE_FIELD_NUMBER: _ClassVar[int]
    EVENTS_PROCESSED_FIELD_NUMBER: _ClassVar[int]
    LAG_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    partitions: _containers.RepeatedCompositeFieldContainer[PartitionStatus]
    events_accepted: int
    events_rejected: int
    events_rejected_kept: int
    kind: str
    events_late: int
    events_processed: int
    lag: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., partitions: _Optional[_Iterable[_Union[PartitionStatus, _Mapping]]] = ..., events_accepted: _Optional[int] = ..., events_rejected: _Optional[int] = ..., events_rejected_kept: _Optional[int] = ..., kind: _Optional[str] = ..., events_late: _Optional[int] = ..., events_processed: _Optional[int] = ..., lag: _Optional[int] = ...) -> None: ...

class GetStatusResponse(_message.Message):
    __slots__ = ("sources", "features")
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    sources: _containers.RepeatedCompositeFieldContainer[SourceStatus]
    features: _containers.RepeatedCompositeFieldContainer[FeatureVersionStatus]
    def __init__(self, sources: _Optional[_Iterable[_Union[SourceStatus, _Mapping]]] = ..., features: _Optional[_Iterable[_Union[FeatureVersionStatus, _Mapping]]] = ...) -> None: ...

class FeatureVersionStatus(_message.Message):
    __slots__ = ("name", "version", "state", "events_done", "events_total", "events_per_second", "eta_seconds", "cause", "frozen", "rows_skipped_no_key", "rows_skipped_no_event_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EVENTS_DONE_FIELD_NUMBER: _ClassVar[int]
    EVENTS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    EVENTS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    ETA_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    FROZEN_FIELD_NUMBER: _ClassVar[int]
    ROWS_SKIPPED_NO_KEY_FIELD_NUMBER: _ClassVar[int]
    ROWS_SKIPPED_NO_EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    state: str
    events_done: int
    events_total: int
    events_per_second: float
    eta_seconds: float
    cause: str
    frozen: bool
    rows_skipped_no_key: int
    rows_skipped_no_event_time: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., state: _Optional[str] = ..., events_done: _Optional[int] = ..., events_total: _Optional[int] = ..., events_per_second: _Optional[float] = ..., eta_seconds: _Optional[float] = ..., cause: _Optional[str] = ..., frozen: _Optional[bool] = ..., rows_skipped_no_key: _Optional[int] = ..., rows_skipped_no_event_time: _Optional[int] = ...) -> None: ...

class WaitForFeatureRequest(_message.Message):
    __slots__ = ("reference",)
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    reference: str
    def __init__(self, reference: _Optional[str] = ...) -> None: ...

class FeatureReference(_message.Message):
    __slots__ = ("reference",)
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    reference: str
    def __init__(self, reference: _Optional[str] = ...) -> None: ...

class EntityKey(_message.Message):
    __slots__ = ("int_value", "string_value", "bool_value")
    INT_VALUE_FIELD_NUMBER: _ClassVar[int]
    STRING_VALUE_FIELD_NUMBER: _ClassVar[int]
    BOOL_VALUE_FIELD_NUMBER: _ClassVar[int]
    int_value: int
    string_value: str
    bool_value: bool
    def __init__(self, int_value: _Optional[int] = ..., string_value: _Optional[str] = ..., bool_value: _Optional[bool] = ...) -> None: ...

class GetOnlineFeaturesRequest(_message.Message):
    __slots__ = ("features", "entity", "keys")
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    features: _containers.RepeatedScalarFieldContainer[str]
    entity: str
    keys: _containers.RepeatedCompositeFieldContainer[EntityKey]
    def __init__(self, features: _Optional[_Iterable[str]] = ..., entity: _Optional[str] = ..., keys: _Optional[_Iterable[_Union[EntityKey, _Mapping]]] = ...) -> None: ...

class FeatureValue(_message.Message):
    __slots__ = ("bool_value", "int_value", "double_value", "string_value", "timestamp_micros")
    BOOL_VALUE_FIELD_NUMBER: _ClassVar[int]
    INT_VALUE_FIELD_NUMBER: _ClassVar[int]
    DOUBLE_VALUE_FIELD_NUMBER: _ClassVar[int]
    STRING_VALUE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MICROS_FIELD_NUMBER: _ClassVar[int]
    bool_value: bool
    int_value: int
    double_value: float
    string_value: str
    timestamp_micros: int
    def __init__(self, bool_value: _Optional[bool] = ..., int_value: _Optional[int] = ..., double_value: _Optional[float] = ..., string_value: _Optional[str] = ..., timestamp_micros: _Optional[int] = ...) -> None: ...

class FeatureRow(_message.Message):
    __slots__ = ("key", "values")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    key: EntityKey
    values: _containers.RepeatedCompositeFieldContainer[FeatureValue]
    def __init__(self, key: _Optional[_Union[EntityKey, _Mapping]] = ..., values: _Optional[_Iterable[_Union[FeatureValue, _Mapping]]] = ...) -> None: ...

class GetOnlineFeaturesResponse(_message.Message):
    __slots__ = ("features", "types", "rows", "evaluated_at_micros", "key_column")
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    EVALUATED_AT_MICROS_FIELD_NUMBER: _ClassVar[int]
    KEY_COLUMN_FIELD_NUMBER: _ClassVar[int]
    features: _containers.RepeatedScalarFieldContainer[str]
    types: _containers.RepeatedScalarFieldContainer[str]
    rows: _containers.RepeatedCompositeFieldContainer[FeatureRow]
    evaluated_at_micros: int
    key_column: str
    def __init__(self, features: _Optional[_Iterable[str]] = ..., types: _Optional[_Iterable[str]] = ..., rows: _Optional[_Iterable[_Union[FeatureRow, _Mapping]]] = ..., evaluated_at_micros: _Optional[int] = ..., key_column: _Optional[str] = ...) -> None: ...

class GenerateTrainingSetRequest(_message.Message):
    __slots__ = ("training_set", "label", "features", "labels_uri", "labels_arrow_ipc", "timestamp_column", "feature_offset", "entities")
    class EntitiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TRAINING_SET_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    LABELS_URI_FIELD_NUMBER: _ClassVar[int]
    LABELS_ARROW_IPC_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_COLUMN_FIELD_NUMBER: _ClassVar[int]
    FEATURE_OFFSET_FIELD_NUMBER: _ClassVar[int]
    ENTITIES_FIELD_NUMBER: _ClassVar[int]
    training_set: str
    label: str
    features: _containers.RepeatedScalarFieldContainer[str]
    labels_uri: str
    labels_arrow_ipc: bytes
    timestamp_column: str
    feature_offset: str
    entities: _containers.ScalarMap[str, str]
    def __init__(self, training_set: _Optional[str] = ..., label: _Optional[str] = ..., features: _Optional[_Iterable[str]] = ..., labels_uri: _Optional[str] = ..., labels_arrow_ipc: _Optional[bytes] = ..., timestamp_column: _Optional[str] = ..., feature_offset: _Optional[str] = ..., entities: _Optional[_Mapping[str, str]] = ...) -> None: ...

class TrainingSetProgress(_message.Message):
    __slots__ = ("rows_done", "rows_total")
    ROWS_DONE_FIELD_NUMBER: _ClassVar[int]
    ROWS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    rows_done: int
    rows_total: int
    def __init__(self, rows_done: _Optional[int] = ..., rows_total: _Optional[int] = ...) -> None: ...

class TrainingSetSummary(_message.Message):
    __slots__ = ("rows", "unknown_keys", "feature_versions", "events_replayed")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    UNKNOWN_KEYS_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    EVENTS_REPLAYED_FIELD_NUMBER: _ClassVar[int]
    rows: int
    unknown_keys: int
    feature_versions: _containers.RepeatedScalarFieldContainer[str]
    events_replayed: int
    def __init__(self, rows: _Optional[int] = ..., unknown_keys: _Optional[int] = ..., feature_versions: _Optional[_Iterable[str]] = ..., events_replayed: _Optional[int] = ...) -> None: ...

class GenerateTrainingSetResponse(_message.Message):
    __slots__ = ("progress", "arrow_ipc", "summary")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    ARROW_IPC_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    progress: TrainingSetProgress
    arrow_ipc: bytes
    summary: TrainingSetSummary
    def __init__(self, progress: _Optional[_Union[TrainingSetProgress, _Mapping]] = ..., arrow_ipc: _Optional[bytes] = ..., summary: _Optional[_Union[TrainingSetSummary, _Mapping]] = ...) -> None: ...
