/** Where run metrics go: App Insights in Azure (the Functions issue plugs it in), a recording sink in tests and the CLI. */
export interface MetricsSink {
  emit(name: string, value: number, dimensions?: Record<string, string>): void;
  flush(): Promise<void>;
}

export interface RecordedMetric {
  name: string;
  value: number;
  dimensions: Record<string, string>;
}

export class RecordingMetrics implements MetricsSink {
  readonly recorded: RecordedMetric[] = [];
  flushed = 0;

  emit(name: string, value: number, dimensions: Record<string, string> = {}): void {
    this.recorded.push({ name, value, dimensions });
  }

  async flush(): Promise<void> {
    this.flushed++;
  }

  last(name: string): number | undefined {
    return this.recorded.filter((m) => m.name === name).at(-1)?.value;
  }
}
