import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { ToolError, type AgentTool, type ToolContext } from './agent-tool';

interface WeatherArgs {
  latitude: number;
  longitude: number;
}

const UNAVAILABLE = 'The weather service is unavailable right now.';

/** Current temperature from open-meteo (no API key needed). */
@Injectable()
export class WeatherTool implements AgentTool<WeatherArgs> {
  readonly name = 'get_weather_from_coords';
  readonly description = 'Get the current weather (temperature in °C and wind speed) at a latitude and longitude.';
  readonly parameters = {
    type: 'object' as const,
    properties: {
      latitude: { type: 'number', minimum: -90, maximum: 90 },
      longitude: { type: 'number', minimum: -180, maximum: 180 },
    },
    required: ['latitude', 'longitude'],
    additionalProperties: false,
  };

  constructor(private readonly config: AppConfig) {}

  async run({ latitude, longitude }: WeatherArgs, { signal }: ToolContext): Promise<unknown> {
    const url = new URL(this.config.WEATHER_API_URL);
    url.searchParams.set('latitude', String(latitude));
    url.searchParams.set('longitude', String(longitude));
    url.searchParams.set('current', 'temperature_2m,wind_speed_10m');
    let response: Response;
    try {
      response = await fetch(url, { signal });
    } catch (err) {
      if (signal.aborted) throw err;
      // The cause (host, port, DNS error) is logged by the registry; the model hears only what it can tell the caller.
      throw new ToolError(UNAVAILABLE, { cause: err });
    }
    if (!response.ok) throw new ToolError(UNAVAILABLE, { cause: new Error(`weather service answered HTTP ${response.status}`) });
    const body = (await response.json()) as { current?: { temperature_2m?: number; wind_speed_10m?: number } };
    const temperature = body.current?.temperature_2m;
    if (typeof temperature !== 'number') throw new ToolError('The weather service returned no temperature for this place.');
    return { latitude, longitude, temperature_c: temperature, wind_speed_kmh: body.current?.wind_speed_10m ?? null };
  }
}
