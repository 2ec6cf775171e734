"""Python client of Freshet, the streaming feature engine.

Example::

    import freshet

    client = freshet.Client("127.0.0.1:50051")
    online = client.get_online_features(["user_spend_7d"], {"user_id": [1, 2]})
    frame = online.to_pandas()
    table = client.get_training_set(training_set="churn")
"""

from freshet.client import Client
from freshet.errors import (
    DeadlineExceededError,
    DefinitionProblem,
    FailedPreconditionError,
    FreshetError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    RowError,
    UnauthenticatedError,
    UnavailableError,
)
from freshet.ingest import IngestResult
from freshet.online import OnlineFeatures
from freshet.registry import FeatureDescription, FeatureStats, FeatureSummary, RegistryObject
from freshet.status import Change, FeatureVersionStatus, Plan, SourceStatus, Status

__version__ = "0.1.0"

__all__ = [
    "Change",
    "Client",
    "DeadlineExceededError",
    "DefinitionProblem",
    "FailedPreconditionError",
    "FeatureDescription",
    "FeatureStats",
    "FeatureSummary",
    "FeatureVersionStatus",
    "FreshetError",
    "IngestResult",
    "InternalError",
    "InvalidArgumentError",
    "NotFoundError",
    "OnlineFeatures",
    "PermissionDeniedError",
    "Plan",
    "RegistryObject",
    "ResourceExhaustedError",
    "RowError",
    "SourceStatus",
    "Status",
    "UnauthenticatedError",
    "UnavailableError",
]
