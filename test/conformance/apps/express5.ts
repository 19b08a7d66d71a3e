// Express 5.

import express from 'express';
import { installedVersion, type ConformanceApp } from './app.ts';
import { expressConformance } from './express.ts';

export const app: ConformanceApp = expressConformance('express5', `Express ${installedVersion('express')}`, express);
