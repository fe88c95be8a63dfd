FROM python:3.13-slim-trixie
COPY . /app
CMD ["python", "-m", "shop"]
