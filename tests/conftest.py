pytest_plugins = ["tests.testenv.pytest_plugin"]
