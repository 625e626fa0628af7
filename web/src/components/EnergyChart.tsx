// ECharts, only the parts used (bars, lines, grid, tooltip, legend, canvas):
// about a third of the full library, and loaded only with the pages that draw.
// The canvas renderer with sampling draws a year of hourly points (8,760 per
// series) without freezing the page.
import { BarChart, LineChart } from "echarts/charts";
import { DataZoomComponent, GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { CanvasRenderer } from "echarts/renderers";
import { useEffect, useRef } from "react";

echarts.use([BarChart, LineChart, GridComponent, TooltipComponent, LegendComponent, DataZoomComponent, CanvasRenderer]);

export interface Series {
  name: string;
  values: number[];
  kind?: "bar" | "line";
}

const italian = new Intl.NumberFormat("it-IT", { maximumFractionDigits: 3 });

export function EnergyChart({ labels, series, title }: { labels: string[]; series: Series[]; title: string }) {
  const element = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);

  useEffect(() => {
    if (!element.current) return;
    const instance = echarts.init(element.current, undefined, { renderer: "canvas" });
    chart.current = instance;
    const resize = () => instance.resize();
    window.addEventListener("resize", resize);
    return () => {
      window.removeEventListener("resize", resize);
      instance.dispose();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    const many = labels.length > 400;
    chart.current?.setOption(
      {
        animation: !many,
        tooltip: { trigger: "axis", valueFormatter: (v: unknown) => `${italian.format(Number(v))} kWh` },
        legend: { top: 0 },
        grid: { left: 48, right: 16, top: 36, bottom: many ? 56 : 28 },
        xAxis: { type: "category", data: labels },
        yAxis: { type: "value", name: "kWh", axisLabel: { formatter: (v: number) => italian.format(v) } },
        dataZoom: many ? [{ type: "inside" }, { type: "slider" }] : [],
        series: series.map((s) => ({
          name: s.name,
          type: s.kind ?? "bar",
          data: s.values,
          sampling: many ? "lttb" : undefined,
          showSymbol: false,
          large: many,
        })),
      },
      true,
    );
  }, [labels, series]);

  // The canvas is not readable by assistive technology: the page shows the
  // same figures in a table next to it.
  return <div ref={element} className="chart" role="img" aria-label={title} />;
}
