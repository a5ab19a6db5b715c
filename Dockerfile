FROM python:3.11-slim

WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
COPY pyproject.toml ./
COPY . .
RUN pip install .

EXPOSE 5001
# The web process by default; the worker service overrides the command (docker-compose.yml).
CMD ["sh", "-c", "python cli.py migrate && python main.py"]
