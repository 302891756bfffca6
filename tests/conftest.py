import pytest

# Two fixed Fernet keys: the first encrypts, both decrypt. Tests never touch
# the development key file under var/.
TEST_ENCRYPTION_KEY = "dGVzdC1lbmNyeXB0aW9uLWtleS0wMDAwMDAwMDAwMDA="
OLD_TEST_ENCRYPTION_KEY = "b2xkLXRlc3QtZW5jcnlwdGlvbi1rZXktMDAwMDAwMDA="


@pytest.fixture(autouse=True)
def _encryption_keys(settings):
    settings.WEBHOOK_ENCRYPTION_KEYS = [TEST_ENCRYPTION_KEY, OLD_TEST_ENCRYPTION_KEY]


@pytest.fixture
def workspace(db):
    from tests.factories import WorkspaceFactory

    return WorkspaceFactory()


@pytest.fixture
def staff_client(client, db):
    from tests.factories import UserFactory

    client.force_login(UserFactory(superuser=True))
    return client
