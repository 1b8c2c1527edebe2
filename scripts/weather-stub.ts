// A stand-in for open-meteo's /v1/forecast, so the weather tool works offline in the demo.
// Answers the fields the tool asks for (`current=temperature_2m,wind_speed_10m`).
import { createServer, type Server } from 'node:http';

export interface WeatherStub {
  /** Base URL for WEATHER_API_URL. */
  url: string;
  requests: number;
  close(): Promise<void>;
}

export const STUB_WEATHER = { temperature_2m: 18.4, wind_speed_10m: 11.2 };

export async function startWeatherStub(): Promise<WeatherStub> {
  let requests = 0;
  const server: Server = createServer((req, res) => {
    requests++;
    const url = new URL(req.url ?? '/', 'http://localhost');
    const latitude = Number(url.searchParams.get('latitude'));
    const longitude = Number(url.searchParams.get('longitude'));
    if (!Number.isFinite(latitude) || !Number.isFinite(longitude)) {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: true, reason: 'latitude and longitude are required' }));
      return;
    }
    const body = {
      latitude,
      longitude,
      current_units: { temperature_2m: '°C', wind_speed_10m: 'km/h' },
      current: { time: new Date().toISOString().slice(0, 16), interval: 900, ...STUB_WEATHER },
    };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/v1/forecast`,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
